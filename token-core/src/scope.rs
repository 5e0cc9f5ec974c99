//! OAuth scope strings (RFC 6749 §3.3): space-separated scope tokens.

/// Splits a space-separated list, dropping empty entries and duplicates.
pub fn split(value: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in value.split(' ').filter(|name| !name.is_empty()) {
        if !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// Checks the scope-token grammar: `1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn is_valid_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Whether a granted scope list satisfies `required`. The `all` scope
/// satisfies every scope.
pub fn grants(granted: &str, required: &str) -> bool {
    granted
        .split(' ')
        .any(|name| name == required || name == ALL)
}

/// The scope that stands for every other scope of the API.
pub const ALL: &str = "all";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_drops_duplicates_and_blanks() {
        assert_eq!(split(" a  b a "), vec!["a", "b"]);
    }

    #[test]
    fn token_grammar() {
        assert!(is_valid_token("read:tickets"));
        assert!(!is_valid_token("a b"));
        assert!(!is_valid_token("a\"b"));
        assert!(!is_valid_token("a\\b"));
        assert!(!is_valid_token(""));
    }

    #[test]
    fn all_grants_everything() {
        assert!(grants("all", "edit:tickets"));
        assert!(grants("read:tickets edit:tickets", "edit:tickets"));
        assert!(!grants("read:tickets", "edit:tickets"));
    }
}
