//! Batch attribute and job names made from export headers: `First Name` →
//! `first_name`, valid for Batch (`[a-z0-9_]`, at most 30 characters) and unique
//! within one job, because two attributes with one name would overwrite each other.

use batchport_api::rules;
use std::collections::HashSet;

/// `Zip Code` → `zip_code`, `lastName` → `last_name`, `Prénom` → `prenom`.
/// Empty when nothing usable is left (e.g. a header of symbols only).
pub fn snake_case(header: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in header.chars() {
        let c = fold_accent(c);
        if c.is_ascii_alphanumeric() {
            // camelCase boundary: `lastName` reads as two words.
            if c.is_ascii_uppercase() && prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let trimmed = out.trim_matches('_');
    let mut name = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        if !(c == '_' && name.ends_with('_')) {
            name.push(c);
        }
    }
    cut(&name, rules::MAX_NAME_LEN)
}

/// Latin letters with accents to their base letter: exports from European tools
/// have headers like `Prénom`, and dropping the letter would give `pr_nom`.
fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'A',
        'ç' => 'c',
        'Ç' => 'C',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' => 'E',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
        'ñ' => 'n',
        'Ñ' => 'N',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => 'O',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
        'ý' | 'ÿ' => 'y',
        'Ý' => 'Y',
        'ß' => 's',
        other => other,
    }
}

fn cut(name: &str, max: usize) -> String {
    // ASCII only by now, so byte and char counts agree.
    name[..name.len().min(max)].trim_end_matches('_').to_string()
}

/// `Email Address` → `emailaddress`: how headers are compared with a preset's
/// documented columns, so case, spaces and punctuation variants still match.
pub fn key(header: &str) -> String {
    header.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Hands out attribute names, never the same one twice.
#[derive(Debug, Default)]
pub struct Names {
    taken: HashSet<String>,
}

impl Names {
    /// Reserve `wanted` (made valid first), or `wanted_2`, `wanted_3`... when it is taken.
    /// `index` names a column with no usable letters (`column_7`).
    pub fn claim(&mut self, wanted: &str, index: usize) -> String {
        let mut base = snake_case(wanted);
        if base.is_empty() {
            base = format!("column_{}", index + 1);
        }
        let mut name = base.clone();
        let mut n = 2;
        while self.taken.contains(&name) {
            let suffix = format!("_{n}");
            name = format!("{}{suffix}", cut(&base, rules::MAX_NAME_LEN - suffix.len()));
            n += 1;
        }
        debug_assert!(rules::is_valid_name(&name), "{name}");
        self.taken.insert(name.clone());
        name
    }
}

/// A job name from the file name: `subscribed_members_export_1a2b.csv.gz` →
/// `subscribed_members_export_1a2b`. Job names key the state store, so only
/// characters `job.name` accepts are kept.
pub fn job_name(path: &std::path::Path) -> String {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let mut stem = file.as_str();
    for ext in [".gz", ".csv", ".tsv", ".txt", ".ndjson", ".jsonl", ".json"] {
        if let Some(s) = stem.strip_suffix(ext).or_else(|| stem.strip_suffix(&ext.to_uppercase())) {
            stem = s;
        }
    }
    let name: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '-' }).collect();
    let name = name.trim_matches(['-', '.']).to_string();
    if name.is_empty() { "import".to_string() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases_headers() {
        assert_eq!(snake_case("First Name"), "first_name");
        assert_eq!(snake_case("MEMBER_RATING"), "member_rating");
        assert_eq!(snake_case("lastName"), "last_name");
        assert_eq!(snake_case("  Zip-Code (US) "), "zip_code_us");
        assert_eq!(snake_case("Prénom"), "prenom");
        assert_eq!(snake_case("$$$"), "");
        assert_eq!(snake_case(&"Very Long Header ".repeat(5)).len(), 30);
    }

    #[test]
    fn dedupes_with_suffixes() {
        let mut n = Names::default();
        assert_eq!(n.claim("Email", 0), "email");
        assert_eq!(n.claim("email", 1), "email_2");
        assert_eq!(n.claim("E-mail!", 2), "e_mail");
        assert_eq!(n.claim("???", 3), "column_4");
        let long = "a".repeat(40);
        assert_eq!(n.claim(&long, 4), "a".repeat(30));
        let second = n.claim(&long, 5);
        assert_eq!(second, format!("{}_2", "a".repeat(28)));
        assert!(rules::is_valid_name(&second));
    }

    proptest::proptest! {
        #[test]
        fn claimed_names_are_valid_and_distinct(headers in proptest::collection::vec("\\PC{0,40}", 1..40)) {
            let mut n = Names::default();
            let got: Vec<String> = headers.iter().enumerate().map(|(i, h)| n.claim(h, i)).collect();
            let distinct: HashSet<&String> = got.iter().collect();
            proptest::prop_assert_eq!(distinct.len(), got.len());
            for g in &got {
                proptest::prop_assert!(rules::is_valid_name(g), "{}", g);
            }
        }
    }

    #[test]
    fn job_names_from_files() {
        use std::path::Path;
        assert_eq!(job_name(Path::new("exports/subscribed members.csv")), "subscribed-members");
        assert_eq!(job_name(Path::new("a/users.csv.gz")), "users");
        assert_eq!(job_name(Path::new("###.csv")), "import");
    }
}
