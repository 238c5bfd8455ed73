//! Tokens: JWT (HS256) with the claims `sub`, `name`, `exp`, and the optional
//! `rooms` and `watch` patterns. In development mode the server also mints them.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use presence_protocol::{limits::MAX_NAME_LEN, validate_id};
use serde::{Deserialize, Serialize};
use wildmatch::WildMatch;

/// The claims of a client token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id: 1 to 128 characters of `[A-Za-z0-9._:@-]`.
    pub sub: String,
    /// Display name; the user id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Expiry, epoch seconds.
    pub exp: u64,
    /// Rooms the user may join, as patterns with `*` (`team-*`). Absent: any room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// Users the user may watch or query, as patterns. Absent: anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<Vec<String>>,
}

/// A set of `*` patterns; `None` allows everything.
#[derive(Debug, Clone, Default)]
pub struct Patterns(Option<Vec<WildMatch>>);

impl Patterns {
    fn new(patterns: Option<Vec<String>>) -> Self {
        Self(patterns.map(|ps| ps.iter().map(|p| WildMatch::new(p)).collect()))
    }

    pub fn allows(&self, id: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| p.matches(id)))
    }
}

/// Who a verified token says the client is.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: String,
    pub name: String,
    pub rooms: Patterns,
    pub watch: Patterns,
}

/// Verifies tokens (and in development mode signs them).
#[derive(Clone)]
pub struct Auth {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth(HS256)")
    }
}

impl Auth {
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Only HS256 is accepted: a token that names another algorithm (`none`
        // included) is refused before its signature is looked at.
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        // Apps put their own `aud` in tokens; this server is not the audience to check.
        validation.validate_aud = false;
        Self {
            decoding: DecodingKey::from_secret(secret),
            encoding: EncodingKey::from_secret(secret),
            validation,
        }
    }

    /// Checks a token; the error is the message of the `unauthorized` answer.
    pub fn verify(&self, token: &str) -> Result<Identity, String> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => "token expired".to_owned(),
                ErrorKind::InvalidSignature => "bad token signature".to_owned(),
                ErrorKind::InvalidAlgorithm => "token algorithm not accepted".to_owned(),
                ErrorKind::MissingRequiredClaim(c) => format!("token lacks the `{c}` claim"),
                _ => format!("invalid token: {e}"),
            })?;
        let claims = data.claims;
        validate_id("sub", &claims.sub).map_err(|e| format!("token {e}"))?;
        let name = display_name(claims.name.as_deref(), &claims.sub);
        Ok(Identity {
            user: claims.sub,
            name,
            rooms: Patterns::new(claims.rooms),
            watch: Patterns::new(claims.watch),
        })
    }

    /// Signs claims (development mode and tests).
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }
}

/// The display name shown to everyone: the `name` claim without control characters
/// and bidirectional formatting (see [`is_hidden_control`]), the user id when nothing
/// but blanks is left, cut to [`MAX_NAME_LEN`] characters after stripping.
fn display_name(claim: Option<&str>, sub: &str) -> String {
    let stripped: String = claim
        .unwrap_or_default()
        .chars()
        .filter(|c| !is_hidden_control(*c))
        .collect();
    let name = if stripped.trim().is_empty() {
        sub
    } else {
        &stripped
    };
    name.chars().take(MAX_NAME_LEN).collect()
}

/// Characters a display name must not carry to other people's screens: C0 and C1
/// controls and DEL (a newline or an escape sequence in a member list or a log), and
/// the bidirectional embeddings, overrides, isolates and marks (U+202A–U+202E,
/// U+2066–U+2069, U+200E, U+200F), which reorder the text around the name as well
/// as the name itself.
fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "alice".into(),
            name: Some("Alice".into()),
            exp,
            rooms: Some(vec!["team-*".into(), "lobby".into()]),
            watch: None,
        }
    }

    fn far() -> u64 {
        crate::clock::now_ms() / 1000 + 3600
    }

    #[test]
    fn verifies_its_own_tokens_and_patterns() -> Result<(), String> {
        let auth = Auth::hs256(b"0123456789abcdef0123456789abcdef");
        let token = auth.sign(&claims(far())).map_err(|e| e.to_string())?;
        let id = auth.verify(&token)?;
        assert_eq!((id.user.as_str(), id.name.as_str()), ("alice", "Alice"));
        assert!(id.rooms.allows("team-1") && id.rooms.allows("lobby"));
        assert!(!id.rooms.allows("other") && !id.rooms.allows("lobby2"));
        assert!(id.watch.allows("anyone"));
        Ok(())
    }

    #[test]
    fn display_names_lose_controls_and_bidi_formatting_then_are_cut() {
        let name = |claim: Option<&str>| display_name(claim, "alice");
        assert_eq!(name(Some("Al\u{202E}i\u{2068}c\u{200E}e")), "Alice");
        assert_eq!(name(Some("a\tb\r\nc\u{7F}d\u{9B}e")), "abcde");
        // Other format characters are letters' business (a joiner in an emoji).
        assert_eq!(name(Some("👩\u{200D}💻")), "👩\u{200D}💻");
        assert_eq!(name(Some("\u{202B}\u{0}\u{2067} ")), "alice");
        assert_eq!(name(None), "alice");
        let long = format!("{}{}", "\u{2066}".repeat(80), "é".repeat(80));
        assert_eq!(name(Some(&long)), "é".repeat(MAX_NAME_LEN));
    }

    #[test]
    fn refuses_other_secrets_expiry_and_alg_none() -> Result<(), String> {
        let auth = Auth::hs256(b"0123456789abcdef0123456789abcdef");
        let other = Auth::hs256(b"fedcba9876543210fedcba9876543210");
        let forged = other.sign(&claims(far())).map_err(|e| e.to_string())?;
        assert_eq!(
            auth.verify(&forged).err().as_deref(),
            Some("bad token signature")
        );
        let expired = auth.sign(&claims(1_000)).map_err(|e| e.to_string())?;
        assert_eq!(
            auth.verify(&expired).err().as_deref(),
            Some("token expired")
        );
        // An unsigned token: header {"alg":"none"}, the claims, no signature.
        let b64 = |s: &str| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
        };
        let body = serde_json::to_string(&claims(far())).map_err(|e| e.to_string())?;
        let unsigned = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&body));
        assert!(auth.verify(&unsigned).is_err());
        Ok(())
    }
}
