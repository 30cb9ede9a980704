//! The one sanitizer for text that came from evidence (decision 0013). File names,
//! volume labels, E01 header fields: they may carry terminal escapes, bidi overrides
//! that make `gpj.exe` read as `exe.jpg`, zero-width characters that make two names
//! look alike, or line breaks that forge a report line. The CLI, the TUI, every
//! report and every error show such text through [`visible`] only.

use std::borrow::Cow;

/// Format characters that change how text reads without being seen: bidi
/// embeddings, overrides, isolates and marks; zero-width spaces and joiners; word
/// joiners and invisible operators; the byte-order mark; interlinear annotations;
/// tag characters; the soft hyphen; line and paragraph separators.
pub fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF9..=0xFFFB | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// `s` with control characters (C0, DEL, C1), invisible format characters and
/// backslashes written as escapes (`\x1b`, `\u{202e}`, `\\`), so every name is
/// visible and unambiguous.
pub fn visible(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() || c == '\\' || is_invisible(c);
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || is_invisible(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A CSV cell that a spreadsheet will not run as a formula: a cell starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`.
pub fn csv_safe(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_of_hostile_character_is_escaped() {
        let s = "a\u{1b}[31m\u{7}\u{7f}\u{9b}\u{202e}gpj.exe\u{200b}\n\\";
        assert_eq!(
            visible(s),
            "a\\x1b[31m\\x07\\x7f\\u{9b}\\u{202e}gpj.exe\\u{200b}\\x0a\\\\"
        );
        assert_eq!(visible("plain é ü 中文"), "plain é ü 中文");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
        for c in [
            '\u{2066}',
            '\u{2069}',
            '\u{feff}',
            '\u{ad}',
            '\u{2028}',
            '\u{e0041}',
        ] {
            assert!(visible(&c.to_string()).starts_with("\\u{"), "{c:?}");
        }
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("-2+3"), "'-2+3");
        assert_eq!(csv_safe("\tx"), "'\tx");
        assert_eq!(csv_safe("report.docx"), "report.docx");
    }
}
