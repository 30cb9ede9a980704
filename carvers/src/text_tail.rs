//! Where a text run really ends (issue 14): the bytes after a file's end
//! (the rest of its last sector, then whatever lies there) are often noise,
//! and about three in eight random bytes are printable, so a run goes on a
//! few bytes past the end; these rules take them back off.

/// How many bytes at the end of a UTF-8 text run (`tail`, its last bytes;
/// `counts`, every byte value's count in the run) are not the file's. Text
/// ends where a byte that is not text comes, but the bytes after a file's end
/// (the rest of its last sector, then whatever lies there) are often noise,
/// and about three in eight random bytes are printable: the run goes on a few
/// bytes past the end. A text file seldom ends inside a line whose bytes its
/// body never used, so in a last line that has no line break after it, the
/// run is cut before the first byte whose value occurs nowhere before that
/// line (a character cut at the front is left out whole), and a last line of
/// only one or two printable bytes (not a closing bracket) is left out.
pub(crate) fn trim_tail(tail: &[u8], counts: &mut [u32; 256]) -> usize {
    let mut cut = trim_last_line(tail, counts);
    let eol = eol(counts);
    // The noise may hold a line break itself: a line of one or two printable
    // bytes, one of them no letter or digit (a `42` or `OK` last line stays)
    // and none a closing bracket, ending the run within 8 bytes of where it
    // stopped, is the noise's too.
    // (Only when all such lines together fit in those 8 bytes: more of them
    // is more than noise gives.)
    let mut more = 0usize;
    while counts[usize::from(eol)] >= 8 && cut + more <= 8 {
        let t = &tail[..tail.len() - cut - more];
        let Some(body) = t.strip_suffix(&[eol]) else {
            break;
        };
        let Some(q) = body.iter().rposition(|&b| b == eol) else {
            break;
        };
        let line = &body[q + 1..];
        let noise = (1..=2).contains(&line.len())
            && line
                .iter()
                .all(|&b| (b.is_ascii_graphic() || b == b' ') && !b"})]>".contains(&b))
            && line.iter().any(|b| !b.is_ascii_alphanumeric());
        if !noise {
            break;
        }
        more += line.len() + 1;
    }
    if more > 0 && cut + more <= 8 {
        let gone = &tail[tail.len() - cut - more..tail.len() - cut];
        gone.iter().for_each(|&b| counts[usize::from(b)] -= 1);
        cut += more;
    }
    cut
}

/// Lines end in LF (CR LF too), or in CR alone (old Mac text); a CR in text
/// that uses LF is a byte like any other.
fn eol(counts: &[u32; 256]) -> u8 {
    if counts[usize::from(b'\n')] > 0 {
        b'\n'
    } else {
        b'\r'
    }
}

/// [`trim_tail`] for the last line, when no line break ends it.
fn trim_last_line(tail: &[u8], counts: &mut [u32; 256]) -> usize {
    let eol = eol(counts);
    if tail.last().is_none_or(|&b| b == eol) {
        return 0;
    }
    let Some(q) = tail.iter().rposition(|&b| b == eol) else {
        return 0;
    };
    let line = &tail[q + 1..];
    // One or two printable bytes after the last of many lines are far more
    // often the noise's first bytes (three in eight are printable) than a
    // last line (a closing `}`, `)`, `]` or `>` stays).
    if line.len() <= 2
        && line
            .iter()
            .all(|&b| (b.is_ascii_graphic() || b == b' ') && !b"})]>".contains(&b))
        && counts[usize::from(eol)] >= 8
    {
        return line.len();
    }
    line.iter().for_each(|&b| counts[usize::from(b)] -= 1);
    // A closing bracket closes one the body opened (a flat JSON object ends in
    // its only `}`).
    let seen = |b: u8| {
        let open = match b {
            b'}' => b'{',
            b']' => b'[',
            b')' => b'(',
            b'>' => b'<',
            _ => b,
        };
        counts[usize::from(b)] > 0 || counts[usize::from(open)] > 0
    };
    let Some(mut j) = line.iter().position(|&b| !seen(b)) else {
        return 0;
    };
    // Back to the start of a UTF-8 character.
    while j > 0 && line[j] & 0xC0 == 0x80 {
        j -= 1;
    }
    line.len() - j
}
