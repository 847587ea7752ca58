//! Form bodies (`application/x-www-form-urlencoded`) as the dashboard's
//! forms post them.

/// The fields of a posted form, in order.
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses a body; anything that is not a form is an empty one.
    pub fn parse(body: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (ticked checkboxes).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed (empty when absent).
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().trim().to_string()
    }

    /// The non-empty lines of `name`, each trimmed (a textarea of URIs).
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_text_and_lines() {
        let f = Form::parse(b"a=+x+&b=1%0D%0A%0D%0A2+&a=second&bad=%FF");
        assert_eq!(f.get("a"), Some(" x "));
        assert_eq!(f.text("a"), "x");
        assert_eq!(f.lines("b"), ["1", "2"]);
        assert_eq!(f.text("missing"), "");
        assert!(f.lines("missing").is_empty());
        assert_eq!(f.get("bad"), Some("\u{fffd}"), "bad UTF-8 is replaced");
        assert!(Form::parse(b"{\"json\": true}").get("csrf").is_none());
    }
}
