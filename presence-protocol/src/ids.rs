use crate::limits::{MAX_DEVICE_LEN, MAX_ID_LEN};

/// A field that parsed but holds a value the protocol does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    /// The field's name, as on the wire.
    pub field: &'static str,
    /// What is wrong, for the `message` of the `bad_request` error.
    pub reason: String,
}

impl std::fmt::Display for InvalidField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid `{}`: {}", self.field, self.reason)
    }
}

impl std::error::Error for InvalidField {}

/// Checks a room or user id: 1 to 128 characters of `[A-Za-z0-9._:@-]`.
pub fn validate_id(field: &'static str, id: &str) -> Result<(), InvalidField> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(InvalidField {
            field,
            reason: format!("must be 1 to {MAX_ID_LEN} characters, got {}", id.len()),
        });
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '-')))
    {
        return Err(InvalidField {
            field,
            reason: format!("character {c:?} is not allowed (use A-Z a-z 0-9 . _ : @ -)"),
        });
    }
    Ok(())
}

/// Checks a list of user ids: between 1 and `max` of them, each valid.
pub fn validate_ids(field: &'static str, ids: &[String], max: usize) -> Result<(), InvalidField> {
    if ids.is_empty() || ids.len() > max {
        return Err(InvalidField {
            field,
            reason: format!("must list 1 to {max} users, got {}", ids.len()),
        });
    }
    ids.iter().try_for_each(|id| validate_id(field, id))
}

/// Checks the `device` label of `hello`: at most 32 characters.
pub fn validate_device(device: &str) -> Result<(), InvalidField> {
    let n = device.chars().count();
    if n > MAX_DEVICE_LEN {
        return Err(InvalidField {
            field: "device",
            reason: format!("at most {MAX_DEVICE_LEN} characters, got {n}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_allowed_alphabet() {
        assert!(validate_id("room", "team-1.general:x@y_z").is_ok());
        assert!(validate_id("room", &"a".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn ids_refuse_empty_long_and_foreign_characters() {
        assert!(validate_id("room", "").is_err());
        assert!(validate_id("room", &"a".repeat(MAX_ID_LEN + 1)).is_err());
        assert!(validate_id("room", "a b").is_err());
        assert!(validate_id("room", "é").is_err());
        assert!(validate_id("room", "a*").is_err());
    }

    #[test]
    fn id_lists_are_bounded() {
        assert!(validate_ids("users", &[], 3).is_err());
        let four: Vec<String> = (0..4).map(|i| format!("u{i}")).collect();
        assert!(validate_ids("users", &four, 3).is_err());
        assert!(validate_ids("users", &four[..3], 3).is_ok());
    }
}
