//! Small collections for what every session holds a few of: its rooms, a member's
//! sessions in a room, a user's sessions. Most hold one or two entries, and a
//! `HashSet` (about 120 bytes for one string), a `BTreeSet` (a node of eleven slots,
//! about 300 bytes) or a `Vec` grown the usual way (room for four) would each cost
//! more than the entries themselves, once per connection.

/// Pushes `item`, growing `vec` by half its length (at least one) when it is full, not
/// by doubling from four.
pub(crate) fn push_compact<T>(vec: &mut Vec<T>, item: T) {
    grow_compact(vec);
    vec.push(item);
}

/// Makes room for one more entry the compact way (see [`push_compact`]).
fn grow_compact<T>(vec: &mut Vec<T>) {
    if vec.len() == vec.capacity() {
        vec.reserve_exact((vec.len() / 2).max(1));
    }
}

/// A small sorted set of strings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SmallSet(Vec<String>);

impl SmallSet {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Adds `s`; false if it was there.
    pub fn insert(&mut self, s: String) -> bool {
        match self.0.binary_search(&s) {
            Ok(_) => false,
            Err(i) => {
                grow_compact(&mut self.0);
                self.0.insert(i, s);
                true
            }
        }
    }

    /// Removes `s`; false if it was not there.
    pub fn remove(&mut self, s: &str) -> bool {
        match self.0.binary_search_by(|x| x.as_str().cmp(s)) {
            Ok(i) => {
                self.0.remove(i);
                if self.0.is_empty() {
                    self.0 = Vec::new();
                }
                true
            }
            Err(_) => false,
        }
    }

    pub fn contains(&self, s: &str) -> bool {
        self.0.binary_search_by(|x| x.as_str().cmp(s)).is_ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }
}

impl IntoIterator for SmallSet {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a SmallSet {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<String> for SmallSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        let mut v: Vec<String> = iter.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        v.shrink_to_fit();
        Self(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_stays_sorted_without_duplicates_and_takes_only_the_room_it_needs() {
        let mut set = SmallSet::new();
        assert!(set.insert("b".into()));
        assert_eq!(set.0.capacity(), 1);
        assert!(set.insert("a".into()));
        assert!(!set.insert("b".into()));
        assert!(set.insert("c".into()));
        assert_eq!(set.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(set.contains("a") && !set.contains("d"));
        assert!(set.remove("a") && !set.remove("a"));
        assert_eq!(set.len(), 2);
        assert!(set.remove("b") && set.remove("c"));
        assert!(set.is_empty());
        assert_eq!(set.0.capacity(), 0, "an emptied set keeps no buffer");
        let collected: SmallSet = ["z", "y", "z"].into_iter().map(String::from).collect();
        assert_eq!(collected.into_iter().collect::<Vec<_>>(), ["y", "z"]);
    }

    #[test]
    fn push_compact_grows_by_half() {
        let mut v = Vec::new();
        let mut caps = Vec::new();
        for i in 0..6 {
            push_compact(&mut v, i);
            caps.push(v.capacity());
        }
        assert_eq!(caps, [1, 2, 3, 4, 6, 6]);
        assert_eq!(v, [0, 1, 2, 3, 4, 5]);
    }
}
