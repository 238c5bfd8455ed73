//! The WebSocket layer: frames that break RFC 6455 or the size limit, before and
//! after `hello`. `docs/protocol.md`, "Close codes": 1002 for a protocol violation,
//! 1007 for text that is not UTF-8, 1009 for a frame over the limit (8,192 bytes);
//! "Transport": close frames with a code not allowed on the wire get 1002, with a
//! reason that is not UTF-8 1007, and the close frame arrives after an error even
//! while the client is still sending.

use super::raw::{Raw, CLOSE, CONTINUATION, CONTINUATION_END, PING, TEXT, TEXT_START};
use super::{Got, Target};

/// The default `--max-frame-bytes`.
const LIMIT: usize = 8_192;

/// A frame that announces 1 MiB: refused by its length, before the payload.
pub(crate) async fn oversized_frame(t: Target) -> Got {
    let mut raw = Raw::hello(&t, "mallory").await;
    raw.head_only(TEXT, 1 << 20).await;
    raw.outcome().await
}

/// Two fragments each under the limit, whose message is over it (9,000 bytes).
pub(crate) async fn fragmented_message_over_the_limit(t: Target) -> Got {
    let mut raw = Raw::hello(&t, "mallory").await;
    let part = vec![b' '; 4_500];
    raw.frame(TEXT_START, true, &part).await;
    raw.frame(CONTINUATION_END, true, &part).await;
    raw.outcome().await
}

/// A fragment under the limit, then a continuation that announces 1 MiB: refused by
/// its length, before its payload is buffered.
pub(crate) async fn fragment_announcing_too_much(t: Target) -> Got {
    let mut raw = Raw::hello(&t, "mallory").await;
    raw.frame(TEXT_START, true, &vec![b' '; LIMIT - 100]).await;
    raw.head_only(CONTINUATION, 1 << 20).await;
    raw.outcome().await
}

/// RSV1 set without an extension that defines it.
pub(crate) async fn reserved_bits(t: Target) -> Got {
    let mut raw = Raw::hello(&t, "mallory").await;
    raw.frame(TEXT | 0x40, true, br#"{"type":"ping"}"#).await;
    raw.outcome().await
}

/// Opcode 0x3, a reserved data opcode.
pub(crate) async fn reserved_data_opcode(t: Target) -> Got {
    let mut raw = Raw::upgrade(&t).await;
    raw.frame(0x83, true, b"x").await;
    raw.outcome().await
}

/// Opcode 0xB, a reserved control opcode.
pub(crate) async fn reserved_control_opcode(t: Target) -> Got {
    let mut raw = Raw::hello(&t, "mallory").await;
    raw.frame(0x8B, true, b"").await;
    raw.outcome().await
}

/// A client frame without a mask.
pub(crate) async fn unmasked_frame(t: Target) -> Got {
    let mut raw = Raw::upgrade(&t).await;
    raw.frame(TEXT, false, b"hi").await;
    raw.outcome().await
}

/// A ping without FIN: control frames must not be fragmented.
pub(crate) async fn fragmented_control_frame(t: Target) -> Got {
    let mut raw = Raw::hello(&t, "mallory").await;
    raw.frame(PING & 0x7F, true, b"").await;
    raw.outcome().await
}

/// A ping of 126 bytes: control frames carry at most 125.
pub(crate) async fn long_control_frame(t: Target) -> Got {
    let mut raw = Raw::hello(&t, "mallory").await;
    raw.frame(PING, true, &[b'p'; 126]).await;
    raw.outcome().await
}

/// A continuation frame with no message started.
pub(crate) async fn continuation_without_a_start(t: Target) -> Got {
    let mut raw = Raw::hello(&t, "mallory").await;
    raw.frame(CONTINUATION_END, true, b"tail").await;
    raw.outcome().await
}

/// A text frame that is not UTF-8.
pub(crate) async fn bad_utf8(t: Target) -> Got {
    let mut raw = Raw::upgrade(&t).await;
    raw.frame(TEXT, true, &[0xC3, 0x28]).await;
    raw.outcome().await
}

/// A message that is valid UTF-8 in no fragment and invalid as a whole: a code
/// point cut in two, then a byte that cannot continue it.
pub(crate) async fn bad_utf8_split_across_fragments(t: Target) -> Got {
    let mut raw = Raw::hello(&t, "mallory").await;
    raw.frame(TEXT_START, true, b"{\"type\":\"ping\",\"x\":\"\xE2\x82")
        .await;
    raw.frame(CONTINUATION_END, true, b"(\"}").await;
    raw.outcome().await
}

/// 200 connections at once, each announcing a frame of 1 MiB.
pub(crate) async fn many_oversized_frames_at_once(t: Target) -> Got {
    let attacks = (0..200).map(|i| {
        let t = t.clone();
        tokio::spawn(async move {
            let mut raw = Raw::hello(&t, &format!("mallory{i}")).await;
            raw.head_only(TEXT, 1 << 20).await;
            raw.outcome().await
        })
    });
    let mut gots = Vec::new();
    for a in attacks.collect::<Vec<_>>() {
        gots.push(a.await.unwrap());
    }
    Got::all_same(gots)
}

/// A frame really over the limit: 4 MiB sent in full, 20 connections at once. Each
/// must get the 1009 close frame, not a reset: the server drains what is still
/// coming. It used to reset 3 connections in 20.
pub(crate) async fn frame_over_the_limit_sent_in_full(t: Target) -> Got {
    let attacks = (0..20).map(|i| {
        let t = t.clone();
        tokio::spawn(async move {
            let mut raw = Raw::hello(&t, &format!("mallory{i}")).await;
            let payload = vec![b' '; 4 << 20];
            if let Err(e) = raw.try_frame(TEXT, &payload).await {
                return Got::Other(format!("sending the frame failed: {e}"));
            }
            raw.outcome().await
        })
    });
    let mut gots = Vec::new();
    for a in attacks.collect::<Vec<_>>() {
        gots.push(a.await.unwrap());
    }
    Got::all_same(gots)
}

/// Close frames with codes RFC 6455 forbids on the wire (1005, 1006, 1015) or that
/// are no valid code (999, 5000), one connection each: every one answered with 1002.
/// They used to be echoed.
pub(crate) async fn forbidden_close_codes(t: Target) -> Got {
    let mut gots = Vec::new();
    for code in [1005u16, 1006, 1015, 999, 5000] {
        let mut raw = Raw::hello(&t, "mallory").await;
        raw.frame(CLOSE, true, &code.to_be_bytes()).await;
        gots.push(match raw.outcome().await {
            Got::Close(1002) => Got::Close(1002),
            other => Got::Other(format!("close {code} got {other:?}")),
        });
    }
    Got::all_same(gots)
}

/// A close frame with a good code and a reason that is not UTF-8: answered with 1007.
/// It used to be accepted.
pub(crate) async fn close_reason_not_utf8(t: Target) -> Got {
    let mut raw = Raw::hello(&t, "mallory").await;
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(&[b'b', b'y', 0xC3, 0x28]);
    raw.frame(CLOSE, true, &payload).await;
    raw.outcome().await
}
