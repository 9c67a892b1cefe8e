//! Import a CSV file through the library, against the local emulator.
//!
//! ```text
//! cargo run --example import_file            # writes a small CSV and imports it
//! cargo run --example import_file -- JOB.toml  # or imports with your own job file
//! ```
//!
//! The keys are passed in (here: the emulator's), not read from the
//! environment; the run's events are printed as they come; Ctrl-C stops the
//! run cleanly (its summary then says `interrupted`).

use batchport::{Emulator, EmulatorConfig, Event, Keys, RunOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let emulator = Emulator::start(EmulatorConfig::default(), ([127, 0, 0, 1], 0).into()).await?;
        let work = std::env::temp_dir().join(format!("batchport-example-{}", std::process::id()));
        std::fs::create_dir_all(&work)?;
        let job_path = match std::env::args_os().nth(1) {
            Some(path) => path.into(),
            None => write_example(&work, &emulator.base_url())?,
        };

        let job = batchport::load_job(&job_path)?;
        let config = EmulatorConfig::default();
        let options = RunOptions::new(work.join("state"))
            .keys(Keys::new(config.rest_key, config.project_key))
            .on_event(|event| match event {
                Event::Started { run_id, resumed } => println!("run {run_id} (resumed: {resumed})"),
                Event::Rows { read, sent, rejected } => println!("  read {read}, sent {sent}, rejected {rejected}"),
                Event::Notice(note) => println!("  note: {note}"),
                _ => {}
            });
        let stop = options.cancel_token().clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.cancel();
            }
        });

        let summary = batchport::run_job(&job, &options).await?;
        println!("{}", summary.human());
        println!("the emulator now holds u3: {}", emulator.profile("u3").is_some());
        std::process::exit(summary.status.code());
    })
}

/// A five-row CSV and a profiles job sending it to `base_url`.
fn write_example(dir: &std::path::Path, base_url: &str) -> std::io::Result<std::path::PathBuf> {
    let mut csv = String::from("user_id,email,plan\n");
    for i in 1..=5 {
        csv.push_str(&format!("u{i},user{i}@example.com,{}\n", if i % 2 == 0 { "pro" } else { "free" }));
    }
    std::fs::write(dir.join("users.csv"), csv)?;
    let job = format!(
        "[job]\nname = \"example\"\nkind = \"profiles\"\n\n[api]\nbase_url = \"{base_url}\"\n\n\
         [source]\npath = \"users.csv\"\n\n[mapping]\ncustom_id = \"user_id\"\n\n[mapping.native]\nemail_address = \"email\"\n\n\
         [mapping.attributes]\nplan = \"plan\"\n"
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, job)?;
    Ok(path)
}
