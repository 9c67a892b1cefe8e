//! Shell completions and the man page.

use crate::common::bin;

#[test]
fn completions_for_bash_zsh_fish_and_a_man_page() {
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef batchport"), ("fish", "complete -c batchport")] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(text.contains("validate") && text.contains("state"), "{shell} knows the commands and flags");
    }
    let out = bin().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(".TH batchport") && text.contains("schedule"), "{text}");
    let out = bin().args(["completions", "tcshh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
