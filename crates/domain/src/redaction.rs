//! Text from outside systems on its way to the log. A provider's error message can name
//! the recipient ("… failed the check: jane@example.com", "PhoneNumber +44… is not
//! valid"); logs must not hold contacts in clear, so anything shaped like an email address
//! or a phone number is replaced before the text is logged.

/// `text` with email addresses and phone-number-like digit runs (seven digits or more,
/// with the usual separators) replaced by `[email]` and `[phone]`.
pub fn without_contacts(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = email_at(&chars, i, &out) {
            trim_email_start(&mut out);
            out.push_str("[email]");
            i = end;
        } else if let Some(end) = phone_at(&chars, i) {
            out.push_str("[phone]");
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn address_char(c: char) -> bool {
    !c.is_whitespace() && !"<>()[]{},;:\"'`".contains(c)
}

/// At an `@` with address characters on both sides: where the address ends.
fn email_at(chars: &[char], i: usize, before: &str) -> Option<usize> {
    if chars[i] != '@' || !before.chars().next_back().is_some_and(address_char) {
        return None;
    }
    let end = chars[i + 1..]
        .iter()
        .position(|&c| !address_char(c))
        .map_or(chars.len(), |offset| i + 1 + offset);
    // A trailing full stop ends the sentence, not the domain.
    let end = (i + 1..end)
        .rev()
        .find(|&j| chars[j] != '.')
        .map_or(end, |j| j + 1);
    (end > i + 1).then_some(end)
}

/// Drops the local part already copied to `out`.
fn trim_email_start(out: &mut String) {
    while out.chars().next_back().is_some_and(address_char) {
        out.pop();
    }
}

/// At a `+` or digit that starts a run of at least seven digits (spaces, dashes, dots and
/// parentheses between them): where the run's last digit ends.
fn phone_at(chars: &[char], i: usize) -> Option<usize> {
    let starts = chars[i] == '+' || chars[i].is_ascii_digit();
    let glued = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '-');
    if !starts || glued {
        return None;
    }
    let mut digits = 0;
    let mut last_digit = None;
    for (j, &c) in chars.iter().enumerate().skip(i) {
        match c {
            '0'..='9' => {
                digits += 1;
                last_digit = Some(j);
            }
            '+' if j == i => {}
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => break,
        }
    }
    let end = last_digit? + 1;
    let glued_after = chars.get(end).is_some_and(|c| c.is_alphabetic());
    (digits >= 7 && !glued_after).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn contacts_are_replaced_and_the_rest_kept() {
        assert_eq!(
            without_contacts(
                "identities failed the check in region EU-WEST-1: Jane.Doe+x@mail.example.co.uk."
            ),
            "identities failed the check in region EU-WEST-1: [email]."
        );
        assert_eq!(
            without_contacts("PhoneNumber +44 7911 123456 (or +447911123456) is not valid"),
            "PhoneNumber [phone] (or [phone]) is not valid"
        );
        assert_eq!(
            without_contacts("<a@b.example>; status 400; retry in 30 s"),
            "<[email]>; status 400; retry in 30 s"
        );
        assert_eq!(
            without_contacts("no contacts here @ all"),
            "no contacts here @ all"
        );
    }

    proptest! {
        #[test]
        fn an_embedded_email_or_number_never_survives(
            prefix in "[a-zA-Z ,:;]{0,20}",
            local in "[a-zA-Z0-9._+-]{1,20}",
            domain in "[a-z0-9-]{1,12}\\.[a-z]{2,6}",
            number in "\\+?[0-9]{7,15}",
            suffix in "[a-zA-Z ,:;]{0,20}",
        ) {
            let email = format!("{local}@{domain}");
            let text = format!("{prefix} {email} {suffix} {number} {suffix}");
            let clean = without_contacts(&text);
            prop_assert!(!clean.contains(&email), "{}", clean);
            prop_assert!(!clean.contains(&number), "{}", clean);
        }
    }
}
