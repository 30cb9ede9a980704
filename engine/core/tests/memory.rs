//! The per-unit memory count with the counting allocator installed, as the
//! `dredge` binary installs it (the library's own tests run without it).

use dredge_core::memory::{self, Counting, Scope};
use dredge_core::BudgetExceeded;
use std::alloc::System;
use std::hint::black_box;
use std::panic::{catch_unwind, AssertUnwindSafe};

#[global_allocator]
static GLOBAL: Counting<System> = Counting(System);

#[test]
fn what_a_thread_allocates_and_frees_is_counted_by_its_requested_size() {
    let before = memory::held();
    let v: Vec<u8> = black_box(Vec::with_capacity(10_000));
    assert_eq!(memory::held() - before, 10_000);
    let mut v = v;
    v.reserve_exact(30_000);
    assert_eq!(memory::held() - before, 30_000);
    drop(black_box(v));
    assert_eq!(memory::held(), before);
}

#[test]
fn a_unit_holding_more_than_its_limit_is_cut_at_the_next_check_and_its_scope_ends() {
    let outside = Vec::<u8>::with_capacity(5 << 20);
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _unit = Scope::enter(1 << 20);
        let mut kept: Vec<Vec<u8>> = Vec::new();
        for _ in 0..100 {
            kept.push(vec![1u8; 64 << 10]);
            memory::check();
        }
        kept.len()
    }));
    let payload = r.expect_err("the unit held 6.25 MiB against 1 MiB");
    let why = payload
        .downcast_ref::<BudgetExceeded>()
        .expect("a budget payload");
    assert!(
        why.what.contains("memory budget of 1048576 bytes"),
        "{}",
        why.what
    );
    // What the thread held before the unit is not the unit's, and the limit ended
    // with the unit: outside it nothing trips.
    let _big = vec![0u8; 8 << 20];
    memory::check();
    assert_eq!(memory::unit_held(), 0);
    drop(outside);
}

#[test]
fn what_the_caller_keeps_from_a_unit_is_not_charged_to_it() {
    let _unit = Scope::enter(1 << 20);
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for _ in 0..64 {
        let entry = vec![0u8; 1024];
        memory::uncounted(|| kept.push(vec![0u8; 64 << 10]));
        drop(entry);
        memory::check();
    }
    assert!(memory::unit_held() < 4096, "{}", memory::unit_held());
    assert_eq!(kept.len(), 64);
}

#[test]
fn a_nested_unit_gives_its_parent_back_its_own_count_and_limit() {
    let _outer = Scope::enter(64 << 20);
    let held = vec![0u8; 2 << 20];
    {
        let _inner = Scope::enter(1 << 20);
        assert_eq!(memory::unit_held(), 0);
        let _more = vec![0u8; 512 << 10];
        memory::check();
    }
    assert!(memory::unit_held() >= 2 << 20);
    memory::check();
    drop(held);
}

#[test]
fn an_entry_handed_over_to_the_caller_leaves_the_unit_count() {
    use dredge_core::{Entry, EntryKind, Recovery, Run, RunData};
    let _unit = Scope::enter(1 << 20);
    let mut kept = Vec::new();
    memory::uncounted(|| kept.reserve(1000));
    let before = memory::held();
    for i in 0..1000u64 {
        // What a reader's walk makes for one file: a path, a short name, runs.
        let mut e = Entry {
            id: i,
            path: format!("/a folder/a rather long file name {i}.bin"),
            other_names: vec![format!("FILE{i}.BIN")],
            kind: EntryKind::File,
            deleted: false,
            size: 4096,
            times: Vec::new(),
            runs: vec![Run {
                file_offset: 0,
                len: 4096,
                data: RunData::Image(i * 4096),
            }],
            recovery: Recovery::Allocated,
            meta_offset: i * 32,
        };
        e.runs.shrink_to_fit();
        memory::hand_over(e.heap_bytes());
        memory::uncounted(|| kept.push(e));
        memory::check();
    }
    // The entries are kept, yet the unit holds nothing: every byte of each entry
    // was handed over, and no more than that.
    assert_eq!(memory::held(), before);
    assert_eq!(memory::unit_held(), 0);
    assert_eq!(kept.len(), 1000);
}
