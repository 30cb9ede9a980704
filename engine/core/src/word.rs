//! Closed sets of choices a user names by a word (`--carve all`, `carve = "all"`
//! in a batch job, the TUI's choice fields): one list per set, kept by the type
//! the engine uses, so the command line, batch jobs and the TUI cannot drift
//! from it or from each other.

/// A value chosen by its word.
pub trait Word: Copy + PartialEq + Sized + 'static {
    /// Every value, in the order a user is offered them (the first is the default
    /// of a choice field).
    const ALL: &'static [Self];
    /// The word of each value, in the order of [`Word::ALL`].
    const WORDS: &'static [&'static str];

    /// This value's word.
    fn word(self) -> &'static str {
        Self::ALL
            .iter()
            .position(|v| *v == self)
            .and_then(|i| Self::WORDS.get(i))
            .copied()
            .unwrap_or("?")
    }

    /// The value a word names; None for any other text.
    fn from_word(s: &str) -> Option<Self> {
        Self::WORDS
            .iter()
            .position(|w| *w == s)
            .and_then(|i| Self::ALL.get(i))
            .copied()
    }

    /// "a, b or c": for a message that says what is accepted.
    fn choices() -> String {
        match Self::WORDS.split_last() {
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// Checks that a set lists one word per value, each naming it back: for the
/// tests of every implementation.
pub fn check_words<T: Word + std::fmt::Debug>() {
    assert_eq!(T::ALL.len(), T::WORDS.len(), "one word per value");
    for (v, w) in T::ALL.iter().zip(T::WORDS) {
        assert_eq!(T::from_word(w), Some(*v), "{w}");
        assert_eq!(v.word(), *w);
    }
}
