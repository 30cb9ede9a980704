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

/// How an artifact's layout was known: from the filesystem (allocated, or deleted
/// with what was assumed) or by carving. The detail, when there is one, is the
/// artifact's `recovery_detail`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ArtifactRecovery {
    #[default]
    Allocated,
    DeletedIntact,
    DeletedAssumed,
    DeletedOverwritten,
    DeletedNotRecoverable,
    /// Carved and its structure validated to its end.
    CarvedComplete,
    /// Carved, valid only up to some byte.
    CarvedPartial,
    /// Carved whole by its structure, in a format with no check that a
    /// fragmented file carved contiguously would fail (BMP, SQLite).
    CarvedUnverified,
}

impl Word for ArtifactRecovery {
    const ALL: &'static [Self] = &[
        ArtifactRecovery::Allocated,
        ArtifactRecovery::DeletedIntact,
        ArtifactRecovery::DeletedAssumed,
        ArtifactRecovery::DeletedOverwritten,
        ArtifactRecovery::DeletedNotRecoverable,
        ArtifactRecovery::CarvedComplete,
        ArtifactRecovery::CarvedPartial,
        ArtifactRecovery::CarvedUnverified,
    ];
    const WORDS: &'static [&'static str] = &[
        "allocated",
        "deleted-intact",
        "deleted-assumed",
        "deleted-overwritten",
        "deleted-not-recoverable",
        "carved-complete",
        "carved-partial",
        "carved-unverified-contiguous",
    ];
}

stored_as_word!(ArtifactRecovery, "artifact recovery");

impl From<&dredge_core::Recovery> for ArtifactRecovery {
    fn from(r: &dredge_core::Recovery) -> Self {
        use dredge_core::Recovery as R;
        match r {
            R::Allocated => ArtifactRecovery::Allocated,
            R::Intact => ArtifactRecovery::DeletedIntact,
            R::Assumed(_) => ArtifactRecovery::DeletedAssumed,
            R::Overwritten(_) => ArtifactRecovery::DeletedOverwritten,
            R::NotRecoverable(_) => ArtifactRecovery::DeletedNotRecoverable,
        }
    }
}

/// How a session (one command run) ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionStatus {
    Running,
    Complete,
    CompleteWithGaps,
    Failed,
    Interrupted,
}

impl Word for SessionStatus {
    const ALL: &'static [Self] = &[
        SessionStatus::Running,
        SessionStatus::Complete,
        SessionStatus::CompleteWithGaps,
        SessionStatus::Failed,
        SessionStatus::Interrupted,
    ];
    const WORDS: &'static [&'static str] = &[
        "running",
        "complete",
        "complete-with-gaps",
        "failed",
        "interrupted",
    ];
}

stored_as_word!(SessionStatus, "session status");

/// The command a session ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionCommand {
    Add,
    Acquire,
    Scan,
    Verify,
    Report,
    Export,
}

impl SessionCommand {
    /// A job (`dredge_session::Job`): reads evidence for long enough to be
    /// killed, and holds the case lock while it does.
    pub fn is_job(self) -> bool {
        matches!(
            self,
            SessionCommand::Add | SessionCommand::Acquire | SessionCommand::Scan
        )
    }
}

impl Word for SessionCommand {
    const ALL: &'static [Self] = &[
        SessionCommand::Add,
        SessionCommand::Acquire,
        SessionCommand::Scan,
        SessionCommand::Verify,
        SessionCommand::Report,
        SessionCommand::Export,
    ];
    const WORDS: &'static [&'static str] =
        &["add", "acquire", "scan", "verify", "report", "export"];
}

stored_as_word!(SessionCommand, "session command");

/// What a custody event records. The log keeps the text it was written with
/// (`Event::action`): a reader compares it with [`Event::is`], so an event an
/// edited log invented is never mistaken for one of these.
///
/// [`Event::action`]: crate::Event::action
/// [`Event::is`]: crate::Event::is
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    CaseCreate,
    EvidenceAdd,
    SessionStart,
    SessionEnd,
    /// One unit's artifacts written and sealed.
    ScanUnit,
    /// A scan's pass over one evidence item ended: the digests it proved.
    ScanEvidence,
    ReportGenerate,
    /// Artifacts copied out of the case.
    Export,
    /// This case is one shard of a sharded batch (the job, K of N, its items).
    ShardStart,
    /// The shard's items are done: the case may be merged.
    ShardEnd,
    /// One shard's case merged into this one: its head and what was copied.
    ShardMerge,
    /// A batch starts one of its items: which, and the label it registers as.
    BatchItem,
    /// A sharded item's pass left its carving to the shards of its byte
    /// ranges: the SHA-256 of each range and of the space to carve in it.
    CarveDeferred,
    /// A shard carved one byte range of an item: the SHA-256 of the bytes it
    /// read, and of the file holding what it found.
    CarveRange,
    /// The merge stored what the ranges' shards carved, as one `carve` unit.
    CarveMerge,
}

impl Word for Action {
    const ALL: &'static [Self] = &[
        Action::CaseCreate,
        Action::EvidenceAdd,
        Action::SessionStart,
        Action::SessionEnd,
        Action::ScanUnit,
        Action::ScanEvidence,
        Action::ReportGenerate,
        Action::Export,
        Action::ShardStart,
        Action::ShardEnd,
        Action::ShardMerge,
        Action::BatchItem,
        Action::CarveDeferred,
        Action::CarveRange,
        Action::CarveMerge,
    ];
    const WORDS: &'static [&'static str] = &[
        "case.create",
        "evidence.add",
        "session.start",
        "session.end",
        "scan.unit",
        "scan.evidence",
        "report.generate",
        "export",
        "shard.start",
        "shard.end",
        "shard.merge",
        "batch.item",
        "carve.deferred",
        "carve.range",
        "carve.merge",
    ];
}

stored_as_word!(Action, "custody action");

#[cfg(test)]
mod tests {
    #[test]
    fn every_stored_word_names_its_value_back() {
        dredge_core::check_words::<super::ArtifactStatus>();
        dredge_core::check_words::<super::ArtifactOrigin>();
        dredge_core::check_words::<super::SessionStatus>();
        dredge_core::check_words::<super::ArtifactRecovery>();
        dredge_core::check_words::<super::SessionCommand>();
        dredge_core::check_words::<super::Action>();
    }
}
