//! The sorted set against a plain model (an ordered vector of (score, member) plus a
//! map), on random operations that cross the encoding boundary.

use std::collections::HashMap;

use proptest::prelude::*;

use super::{LexBound, ScoreRange, ZSet, order};

#[derive(Default)]
struct Model {
    scores: HashMap<Vec<u8>, f64>,
}

impl Model {
    fn sorted(&self) -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<_> = self.scores.iter().map(|(m, s)| (m.clone(), *s)).collect();
        v.sort_by(|a, b| order(a.1, &a.0, b.1, &b.0));
        v
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(Vec<u8>, f64),
    Remove(Vec<u8>),
    RemoveRanks(usize, usize),
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        20 => (0u16..300).prop_map(|i| format!("m{i}").into_bytes()),
        1 => (0u8..4).prop_map(|i| vec![b'a' + i; 70]),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![(-5i32..5).prop_map(f64::from), -1e3f64..1e3, Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(-0.0)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (member(), score()).prop_map(|(m, s)| Op::Insert(m, s)),
        4 => member().prop_map(Op::Remove),
        1 => (0usize..200, 0usize..6).prop_map(|(a, n)| Op::RemoveRanks(a, a + n)),
    ]
}

fn compare(z: &ZSet, model: &Model, probes: &[(f64, f64, bool, bool)], lex: &[(Vec<u8>, Vec<u8>)]) {
    z.check();
    let sorted = model.sorted();
    assert_eq!(z.len(), sorted.len());
    let got = z.to_vec();
    assert_eq!(got.len(), sorted.len());
    for (g, w) in got.iter().zip(&sorted) {
        assert_eq!(g.0, w.0);
        assert_eq!(g.1.to_bits(), w.1.to_bits());
    }
    for (rank, (m, s)) in sorted.iter().enumerate() {
        assert_eq!(z.score(m).map(f64::to_bits), Some(s.to_bits()));
        assert_eq!(z.rank(m), Some(rank));
        assert_eq!(z.get(rank).map(|(m, _)| m.to_vec()), Some(m.clone()));
    }
    assert_eq!(z.rank(b"absent"), None);
    assert!(z.get(sorted.len()).is_none());
    for &(min, max, min_ex, max_ex) in probes {
        let r = ScoreRange { min, min_ex, max, max_ex };
        let want: Vec<_> = sorted.iter().filter(|(_, s)| !r.below(*s) && !r.above(*s)).map(|(m, _)| m.clone()).collect();
        let (a, b) = z.score_ranks(&r);
        let mut fwd = Vec::new();
        z.for_each(a, b, false, &mut |m, _| fwd.push(m.to_vec()));
        assert_eq!(fwd, want);
        let mut back = Vec::new();
        z.for_each(a, b, true, &mut |m, _| back.push(m.to_vec()));
        back.reverse();
        assert_eq!(back, want);
    }
    for (lo, hi) in lex {
        let (min, max) = (LexBound::Incl(lo.clone()), LexBound::Excl(hi.clone()));
        let want = sorted.iter().filter(|(m, _)| !min.is_below_min(m) && max.is_within_max(m)).count();
        // Lex ranges are only meaningful when every score is equal; count on the members'
        // own order then.
        if sorted.iter().all(|(_, s)| *s == sorted[0].1) {
            let (a, b) = z.lex_ranks(&min, &max, false);
            assert_eq!(z.lex_ranks(&min, &max, true), (a, b));
            assert_eq!(b - a, want);
        }
    }
}

fn apply(z: &mut ZSet, model: &mut Model, op: &Op) {
    match op {
        Op::Insert(m, s) => {
            let added = z.insert(m, *s);
            assert_eq!(added, model.scores.insert(m.clone(), *s + 0.0).is_none());
        }
        Op::Remove(m) => assert_eq!(z.remove(m).map(f64::to_bits), model.scores.remove(m).map(f64::to_bits)),
        Op::RemoveRanks(a, b) => {
            let sorted = model.sorted();
            for (m, _) in sorted.iter().skip(*a).take(b.saturating_sub(*a)) {
                model.scores.remove(m);
            }
            z.remove_ranks(*a, *b);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn matches_model(ops in prop::collection::vec(op(), 1..500), probes in prop::collection::vec((score(), score(), any::<bool>(), any::<bool>()), 4)) {
        let mut z = ZSet::new();
        let mut model = Model::default();
        let lex = vec![(b"m1".to_vec(), b"m2".to_vec()), (b"".to_vec(), b"m5".to_vec())];
        for (i, op) in ops.iter().enumerate() {
            apply(&mut z, &mut model, op);
            if i % 50 == 0 {
                compare(&z, &model, &probes, &lex);
            }
        }
        compare(&z, &model, &probes, &lex);
    }

    #[test]
    fn equal_scores_order_by_member(members in prop::collection::hash_set("[a-z]{0,6}", 0..300)) {
        let mut z = ZSet::new();
        let mut model = Model::default();
        for m in &members {
            z.insert(m.as_bytes(), 1.0);
            model.scores.insert(m.as_bytes().to_vec(), 1.0);
        }
        let lex = vec![(b"b".to_vec(), b"d".to_vec()), (b"".to_vec(), b"zzzzzzz".to_vec()), (b"q".to_vec(), b"a".to_vec())];
        compare(&z, &model, &[(1.0, 1.0, false, false), (1.0, 1.0, true, false)], &lex);
    }
}

#[test]
fn encodings_follow_redis_limits() {
    let mut z = ZSet::new();
    for i in 0..128 {
        z.insert(format!("{i}").as_bytes(), f64::from(i));
    }
    assert_eq!(z.encoding(), "listpack");
    z.insert(b"one more", 0.5);
    assert_eq!(z.encoding(), "skiplist");
    z.remove(b"one more");
    assert_eq!(z.encoding(), "skiplist", "never converted back");
    let mut z = ZSet::new();
    z.insert(&[b'x'; 64], 1.0);
    assert_eq!(z.encoding(), "listpack");
    z.insert(&[b'y'; 65], 1.0);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(ZSet::for_size(129, 1).encoding(), "skiplist");
    assert_eq!(ZSet::for_size(128, 64).encoding(), "listpack");
}

#[test]
fn a_tree_node_stays_small() {
    assert_eq!(super::tree::Tree::NODE_BYTES, 40);
}

#[test]
fn negative_zero_is_stored_as_zero() {
    let mut z = ZSet::new();
    z.insert(b"a", -0.0);
    assert_eq!(z.score(b"a").map(f64::to_bits), Some(0f64.to_bits()));
}
