//! The chunked list against a plain `VecDeque<Vec<u8>>` model.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::*;

fn elems(l: &List) -> Vec<Vec<u8>> {
    l.iter().map(<[u8]>::to_vec).collect()
}

#[test]
fn pushes_pops_and_indexes_across_many_chunks() {
    let mut l = List::new();
    for i in 0..5000u32 {
        l.push_back(format!("b{i}").as_bytes());
        l.push_front(format!("f{i}").as_bytes());
    }
    l.check();
    assert!(l.chunks.len() > 4, "{} chunks", l.chunks.len());
    assert_eq!(l.len(), 10_000);
    assert_eq!(l.get(0), Some(&b"f4999"[..]));
    assert_eq!(l.get(4999), Some(&b"f0"[..]));
    assert_eq!(l.get(5000), Some(&b"b0"[..]));
    assert_eq!(l.get(9999), Some(&b"b4999"[..]));
    assert_eq!(l.get(10_000), None);
    assert_eq!(l.iter().next_back(), Some(&b"b4999"[..]));
    assert_eq!(l.iter_from(9998).collect::<Vec<_>>(), [&b"b4998"[..], b"b4999"]);
    assert_eq!(l.iter_from(10_000).count(), 0);
    for i in (0..5000u32).rev() {
        assert_eq!(l.pop_front().unwrap(), format!("f{i}").into_bytes());
        assert_eq!(l.pop_back().unwrap(), format!("b{i}").into_bytes());
    }
    assert!(l.is_empty() && l.chunks.is_empty());
    assert_eq!(l.pop_front(), None);
    assert_eq!(l.encoding(), "quicklist");
}

#[test]
fn large_elements_get_their_own_chunk_and_small_ones_share() {
    let big = vec![b'x'; CHUNK_BYTES * 2];
    let mut l: List = [&b"a"[..], b"b"].into_iter().collect();
    l.push_back(&big);
    l.push_back(b"c");
    l.check();
    assert_eq!(l.chunks.len(), 3);
    // growing an element of a full chunk splits it
    l.set(0, &big);
    l.check();
    assert_eq!(elems(&l), [big.clone(), b"b".to_vec(), big.clone(), b"c".to_vec()]);
    l.insert(1, &big);
    l.check();
    assert_eq!(l.get(1), Some(&big[..]));
    // one chunk of framing per 8 KB, not per element
    let mut small = List::new();
    (0..1000).for_each(|_| small.push_back(b"0123456789"));
    assert_eq!(small.chunks.len(), 2);
    assert!(small.heap_bytes() < 1000 * 16, "{} bytes", small.heap_bytes());
    // a short list costs one chunk slot and its packed bytes
    let three: List = [&b"alpha"[..], b"beta", b"gamma"].into_iter().collect();
    assert!(three.heap_bytes() <= 32 + 32, "{} bytes", three.heap_bytes());
}

#[test]
fn remove_matching_from_either_end_and_trim() {
    let mut l: List = "a b a c a b a".split(' ').map(str::as_bytes).collect();
    assert_eq!(l.remove_matching(b"a", 2, true), 2);
    assert_eq!(elems(&l), ["a", "b", "a", "c", "b"].map(|s| s.as_bytes().to_vec()));
    assert_eq!(l.remove_matching(b"a", 1, false), 1);
    assert_eq!(l.remove_matching(b"zz", usize::MAX, false), 0);
    assert_eq!(l.remove_matching(b"b", usize::MAX, false), 2);
    assert_eq!(elems(&l), ["a", "c"].map(|s| s.as_bytes().to_vec()));
    l.trim(1, 0);
    assert_eq!(elems(&l), [b"c".to_vec()]);
    l.trim(0, 5);
    assert!(l.is_empty() && l.chunks.is_empty());
}

#[derive(Clone, Debug)]
enum Op {
    PushFront(Vec<u8>),
    PushBack(Vec<u8>),
    PopFront,
    PopBack,
    Insert(usize, Vec<u8>),
    Set(usize, Vec<u8>),
    Remove(Vec<u8>, usize, bool),
    Trim(usize, usize),
    Get(usize),
    RangeFrom(usize),
}

/// Short values from a small alphabet (so removals match), now and then a long one
/// that crosses varint widths and the chunk limit.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(b'a'..b'd', 0..3),
        2 => proptest::collection::vec(any::<u8>(), 100..400),
        1 => (0usize..3).prop_map(|k| vec![b'z'; [127, 5000, CHUNK_BYTES + 10][k]]),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => value().prop_map(Op::PushFront),
        6 => value().prop_map(Op::PushBack),
        2 => Just(Op::PopFront),
        2 => Just(Op::PopBack),
        3 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Insert(i, v)),
        3 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Set(i, v)),
        1 => (value(), 0usize..4, any::<bool>()).prop_map(|(v, n, t)| Op::Remove(v, if n == 0 { usize::MAX } else { n }, t)),
        1 => (0usize..20, 0usize..20).prop_map(|(a, b)| Op::Trim(a, b)),
        2 => any::<usize>().prop_map(Op::Get),
        1 => any::<usize>().prop_map(Op::RangeFrom),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn behaves_like_a_vecdeque(ops in proptest::collection::vec(op(), 1..400)) {
        let mut l = List::new();
        let mut m: VecDeque<Vec<u8>> = VecDeque::new();
        for op in ops {
            let n = m.len();
            match op {
                Op::PushFront(v) => { l.push_front(&v); m.push_front(v); }
                Op::PushBack(v) => { l.push_back(&v); m.push_back(v); }
                Op::PopFront => prop_assert_eq!(l.pop_front(), m.pop_front()),
                Op::PopBack => prop_assert_eq!(l.pop_back(), m.pop_back()),
                Op::Insert(i, v) => { let i = i % (n + 1); l.insert(i, &v); m.insert(i, v); }
                Op::Set(i, v) => {
                    let i = if n == 0 { i % 3 } else { i % (n + 1) };
                    prop_assert_eq!(l.set(i, &v), i < n);
                    if i < n { m[i] = v; }
                }
                Op::Remove(v, limit, from_tail) => {
                    let positions: Vec<usize> = (0..n).filter(|&i| m[i] == v).collect();
                    let go: Vec<usize> = if from_tail { positions.iter().rev().take(limit).copied().collect() } else { positions.iter().take(limit).copied().collect() };
                    prop_assert_eq!(l.remove_matching(&v, limit, from_tail), go.len());
                    let mut i = 0;
                    m.retain(|_| { let keep = !go.contains(&i); i += 1; keep });
                }
                Op::Trim(a, b) => {
                    l.trim(a, b);
                    if a + b >= n { m.clear(); } else { m.drain(..a); m.truncate(n - a - b); }
                }
                Op::Get(i) => { let i = i % (n + 2); prop_assert_eq!(l.get(i), m.get(i).map(Vec::as_slice)); }
                Op::RangeFrom(i) => {
                    let i = i % (n + 2);
                    let got: Vec<&[u8]> = l.iter_from(i).collect();
                    let want: Vec<&[u8]> = m.iter().skip(i).map(Vec::as_slice).collect();
                    prop_assert_eq!(got, want);
                }
            }
            l.check();
            prop_assert_eq!(l.len(), m.len());
        }
        prop_assert!(l.iter().eq(m.iter().map(Vec::as_slice)));
        prop_assert!(l.iter().rev().eq(m.iter().rev().map(Vec::as_slice)));
        // both ends at once meet in the middle without crossing
        let mut it = l.iter();
        let mut front = Vec::new();
        let mut back = Vec::new();
        loop {
            match (it.next(), it.next_back()) {
                (Some(a), Some(b)) => { front.push(a); back.push(b); }
                (Some(a), None) => { front.push(a); break; }
                (None, _) => break,
            }
        }
        back.reverse();
        front.extend(back);
        prop_assert!(front.into_iter().eq(m.iter().map(Vec::as_slice)));
    }
}
