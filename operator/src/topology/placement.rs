//! Where a shard's nodes go: spread over zones so one zone's outage leaves a copy.

use std::collections::BTreeMap;

/// The zone for a shard's next node: the available zone holding the fewest of its nodes
/// (the first such in order, so the choice is stable). None when no zone is known.
pub fn zone_for_new_node<'a>(existing: &[Option<&str>], zones: &'a [String]) -> Option<&'a str> {
    let mut count: BTreeMap<&str, usize> = zones.iter().map(|z| (z.as_str(), 0)).collect();
    for z in existing.iter().flatten() {
        if let Some(c) = count.get_mut(z) {
            *c += 1;
        }
    }
    zones.iter().map(String::as_str).min_by_key(|z| count.get(z).copied().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_node_goes_to_the_emptiest_zone() {
        let zones: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(zone_for_new_node(&[], &zones), Some("a"));
        assert_eq!(zone_for_new_node(&[Some("a")], &zones), Some("b"));
        assert_eq!(zone_for_new_node(&[Some("a"), Some("b"), None], &zones), Some("c"));
        assert_eq!(zone_for_new_node(&[Some("a"), Some("b"), Some("c")], &zones), Some("a"));
        assert_eq!(zone_for_new_node(&[Some("a")], &[]), None);
    }
}
