//! A map from string ids to values, kept as a `Vec` sorted by id.
//!
//! Why not `BTreeMap`: every `BTreeMap<K, V>` instance brings its own copy of the tree
//! code (search, insert with node splits, remove with merges, drop, iteration), several
//! kilobytes of wasm each, and the client has half a dozen maps. The maps here hold a
//! room's members, the joined rooms, the watched users: tens to a few hundred entries,
//! where a binary search over a `Vec` is as fast and a fraction of the code.

#[derive(Debug, Clone, PartialEq, Eq)]
/// A map from string ids to values, sorted by id (see the module docs).
pub struct VecMap<V> {
    entries: Vec<(String, V)>,
}

/// A set of ids.
pub type VecSet = VecMap<()>;

impl<V> Default for VecMap<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<V> VecMap<V> {
    /// An empty map.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        let i = self.find(key).ok()?;
        self.entries.get(i).map(|(_, v)| v)
    }

    /// The value of `key`, to change.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let i = self.find(key).ok()?;
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// Whether `key` is in the map.
    pub fn contains(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Inserts or replaces; returns the value it replaced.
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => self
                .entries
                .get_mut(i)
                .map(|(_, old)| std::mem::replace(old, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.find(key).ok()?;
        Some(self.entries.remove(i).1)
    }

    /// Keeps only the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &V) -> bool) {
        self.entries.retain(|(k, v)| keep(k, v));
    }

    /// The entries in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The ids in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The values in id order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every key, emptying the map.
    pub fn take_keys(&mut self) -> Vec<String> {
        std::mem::take(&mut self.entries)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }
}

impl VecSet {
    /// Adds an id; returns whether it was new.
    pub fn add(&mut self, key: String) -> bool {
        self.insert(key, ()).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_ids_sorted_and_unique() {
        let mut m = VecMap::new();
        for (k, v) in [("c", 3), ("a", 1), ("b", 2)] {
            assert_eq!(m.insert(k.to_owned(), v), None);
        }
        assert_eq!(m.insert("b".to_owned(), 20), Some(2));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(m.values().copied().collect::<Vec<_>>(), [1, 20, 3]);
        assert_eq!(m.get("b"), Some(&20));
        assert_eq!(m.get("z"), None);
        *m.get_mut("a").unwrap() += 10;
        assert_eq!(m.remove("a"), Some(11));
        assert_eq!(m.remove("a"), None);
        m.retain(|k, _| k != "c");
        assert_eq!(m.len(), 1);
        assert_eq!(m.take_keys(), ["b"]);
        assert!(m.is_empty());
    }

    #[test]
    fn a_set_reports_whether_an_id_was_new() {
        let mut s = VecSet::new();
        assert!(s.add("x".into()));
        assert!(!s.add("x".into()));
        assert!(s.contains("x"));
        assert!(!s.contains("y"));
    }
}
