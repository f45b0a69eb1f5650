//! Escaping for the two places AuthKit writes HTML (email templates, the magic-link page):
//! tenant names, links and link parameters are not trusted markup.

pub fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_cannot_break_out_of_text_or_attributes() {
        assert_eq!(
            super::escape_html(r#""><script>'&"#),
            "&quot;&gt;&lt;script&gt;&#39;&amp;"
        );
        assert_eq!(super::escape_html("Acme Café"), "Acme Café");
    }
}
