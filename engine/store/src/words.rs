//! The closed sets of words the store records about an artifact. Each is a type
//! (`dredge_core::Word`), stored as its word: the words are part of the store's
//! format and of every report, so a variant is never renamed, and a word the
//! store does not know (an edited store) is an error naming it, not a guess.

use dredge_core::Word;

/// Stores a [`Word`] type as its word, and reads it back or names what it found.
macro_rules! stored_as_word {
    ($t:ty, $what:literal) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl rusqlite::types::ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl rusqlite::types::FromSql for $t {
            fn column_result(
                v: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                let s = v.as_str()?;
                <$t>::from_word(s).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(
                        format!(concat!("unknown ", $what, " {:?}"), s).into(),
                    )
                })
            }
        }

        impl $t {
            pub fn as_str(self) -> &'static str {
                self.word()
            }

            pub fn parse(s: &str) -> Option<$t> {
                <$t>::from_word(s)
            }
        }
    };
}

/// What an artifact's copy holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ArtifactStatus {
    /// Every byte of the file read and traced.
    #[default]
    Complete,
    /// Some bytes unreadable or untraceable: the artifact's gaps say which.
    Partial,
    /// Listed with its metadata only: a directory, a file whose content cannot be
    /// traced, or one whose unit was cut short.
    NoContent,
}

impl Word for ArtifactStatus {
    const ALL: &'static [Self] = &[
        ArtifactStatus::Complete,
        ArtifactStatus::Partial,
        ArtifactStatus::NoContent,
    ];
    const WORDS: &'static [&'static str] = &["complete", "partial", "no-content"];
}

stored_as_word!(ArtifactStatus, "artifact status");

/// Where an artifact came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ArtifactOrigin {
    /// An entry of a filesystem's metadata, allocated or deleted.
    #[default]
    Filesystem,
    /// Found by its signature in unallocated (or, with `--carve all`, any) space.
    Carved,
}

impl Word for ArtifactOrigin {
    const ALL: &'static [Self] = &[ArtifactOrigin::Filesystem, ArtifactOrigin::Carved];
    const WORDS: &'static [&'static str] = &["filesystem", "carved"];
}

stored_as_word!(ArtifactOrigin, "artifact origin");

#[cfg(test)]
mod tests {
    #[test]
    fn every_stored_word_names_its_value_back() {
        dredge_core::check_words::<super::ArtifactStatus>();
        dredge_core::check_words::<super::ArtifactOrigin>();
    }
}
