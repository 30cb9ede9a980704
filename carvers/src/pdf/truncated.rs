//! A PDF cut short: no `%%EOF` of its own (the rest overwritten, or never
//! written). Its objects are walked in sequence from the header, each checked
//! as the cross-reference check checks one (header, value, stream, its filter,
//! `endobj`), until one does not check out or something other than an object
//! follows; the file is partial up to the end of the last one that did. A
//! stream whose `/Length` refers to an object not met yet (writers put it
//! after the stream) is measured to its `endstream`. Another PDF's header
//! ends the walk.

use super::lex::{is_ws, Cur};
use super::objects::{object, Index};
use crate::{Reader, WHOLE};

/// Objects walked at most (a writer's file has far fewer than this before
/// its first cross-reference; the carve's size bounds the bytes).
const MAX_OBJECTS: u64 = 1 << 20;

/// Past whitespace and comments; false at another PDF's header.
fn blank(cur: &mut Cur) -> bool {
    while let Some(c) = cur.peek() {
        if is_ws(c) {
            cur.pos += 1;
        } else if c == b'%' {
            if cur.pos > 0 && cur.eat(b"%PDF-") {
                return false;
            }
            while cur.peek().is_some_and(|c| c != b'\r' && c != b'\n') {
                cur.pos += 1;
            }
        } else {
            break;
        }
    }
    true
}

/// The logical end of the last object that checks out in sequence from the
/// header (0: none does).
pub(super) fn walk(r: &mut Reader<'_>) -> u64 {
    let end = r.limit();
    let mut cur = Cur::new(r, WHOLE, end);
    cur.measure = true;
    let mut index = Index::new();
    let mut good = 0;
    for _ in 0..MAX_OBJECTS {
        if !blank(&mut cur) {
            break;
        }
        let at = cur.pos;
        let Some(num) = cur.uint() else { break };
        cur.ws();
        let Some(gen) = cur.uint() else { break };
        let (Ok(num), Ok(gen)) = (u32::try_from(num), u16::try_from(gen)) else {
            break;
        };
        let Some(o) = object(&mut cur, at, Some((num, gen)), &index) else {
            break;
        };
        index.insert(num, (at, gen));
        good = o.end;
        cur.pos = o.end;
    }
    good
}
