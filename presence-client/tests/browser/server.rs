//! Against the real presence-server the script starts.

use super::*;

#[wasm_bindgen_test]
async fn two_clients_see_each_other_type_change_status_and_survive_a_dropped_socket() {
    let (Some(alice), Some(bob)) = (server_client("alice", &[]), server_client("bob", &[])) else {
        return skip();
    };
    let room = unique("lobby");
    let later_room = unique("later");
    let alice_connection = Recorder::new(&alice, "connection");
    let bob_typing = Recorder::new(&bob, "typing");
    let bob_rooms = Recorder::new(&bob, "room");

    alice.join(room.clone()).unwrap();
    bob.join(room.clone()).unwrap();
    bob.watch("alice".into()).unwrap();
    alice.connect().unwrap();
    bob.connect().unwrap();
    assert!(
        until(5_000, || open(&alice) && open(&bob)).await,
        "both open"
    );
    assert!(
        until(3_000, || members(&alice, &room) == ["alice", "bob"]
            && members(&bob, &room) == ["alice", "bob"])
        .await,
        "both see both: {:?} {:?}",
        members(&alice, &room),
        members(&bob, &room)
    );
    assert!(bob_rooms.field("room").contains(&room));
    assert_eq!(
        get(&get(&alice.me(), "user"), "id").as_string().as_deref(),
        Some("alice")
    );

    // Typing: starts at once, stays on while alice types for longer than the server's
    // typing TTL (6 s) thanks to the refresh every 3 s, stops 1.5 s after her last key.
    alice.typing(room.clone()).unwrap();
    assert!(
        until(2_000, || typists(&bob, &room) == ["alice"]).await,
        "typing seen"
    );
    let started = now();
    while now() - started < 7_500.0 {
        alice.typing(room.clone()).unwrap();
        sleep(200).await;
    }
    let last_key = now();
    assert_eq!(
        bob_typing.field("user"),
        ["alice"],
        "one start, no stop meanwhile"
    );
    assert!(
        until(4_000, || typists(&bob, &room).is_empty()).await,
        "typing stopped"
    );
    let stopped_after = now() - last_key;
    assert!(
        (1_200.0..2_900.0).contains(&stopped_after),
        "the client's 1.5 s debounce stopped it (not the server's expiry): {stopped_after} ms"
    );
    let flags: Vec<bool> = bob_typing
        .all()
        .iter()
        .map(|e| get(e, "typing").as_bool().unwrap())
        .collect();
    assert_eq!(flags, [true, false]);
    // stopTyping stops at once.
    alice.typing(room.clone()).unwrap();
    assert!(until(2_000, || typists(&bob, &room) == ["alice"]).await);
    alice.stop_typing(room.clone()).unwrap();
    assert!(
        until(600, || typists(&bob, &room).is_empty()).await,
        "stopTyping"
    );

    // Statuses.
    alice.set_status("busy".into()).unwrap();
    alice
        .set_custom_status(options(&[("text", "Lunch".into()), ("emoji", "🍜".into())]))
        .unwrap();
    assert!(
        until(2_000, || status_in(&bob, &room, "alice").as_deref()
            == Some("busy"))
        .await
    );
    assert!(
        until(2_000, || {
            member(&bob, &room, "alice").map(|m| get(&get(&m, "custom"), "text").as_string())
                == Some(Some("Lunch".into()))
        })
        .await
    );
    assert!(
        until(2_000, || get(&bob.user("alice"), "status")
            .as_string()
            .as_deref()
            == Some("busy"))
        .await,
        "bob watches alice"
    );

    // The server drops alice's socket (an oversized frame: close 1009). The network
    // "goes offline" first, so alice stays away long enough for the room to change
    // behind her back.
    dispatch_on_window("offline");
    assert!(alice.debug_send_raw(&"x".repeat(9_000)));
    assert!(until(3_000, || alice.connection_state() == "reconnecting").await);
    bob.leave(room.clone()).unwrap();
    bob.join(later_room.clone()).unwrap();
    alice.join(later_room.clone()).unwrap(); // asked for while away
    sleep(300).await;
    assert_eq!(alice.connection_state(), "reconnecting", "offline: waiting");
    assert_eq!(
        members(&alice, &room),
        ["alice", "bob"],
        "the old view while away"
    );
    dispatch_on_window("online");
    assert!(
        until(3_000, || open(&alice)).await,
        "reconnected at once when online"
    );
    assert_eq!(
        alice_connection.field("state"),
        ["connecting", "open", "reconnecting", "open"]
    );
    assert!(
        until(3_000, || members(&alice, &room) == ["alice"]).await,
        "resynced, bob is gone: {:?}",
        members(&alice, &room)
    );
    assert!(
        until(3_000, || members(&alice, &later_room) == ["alice", "bob"]).await,
        "the room joined while away: {:?}",
        members(&alice, &later_room)
    );
    assert_eq!(
        get(&alice.me(), "status").as_string().as_deref(),
        Some("busy")
    );
    assert_eq!(
        status_in(&bob, &later_room, "alice").as_deref(),
        Some("busy")
    );

    // destroy() leaves first: bob sees alice go at once, not after the 2 s grace.
    alice.destroy();
    assert!(
        until(1_200, || members(&bob, &later_room) == ["bob"]).await,
        "leave seen before the grace period ends"
    );
    assert_eq!(alice.debug_handles(), (0, 0, 0, 0));
    bob.destroy();
}

#[wasm_bindgen_test]
async fn a_refused_token_is_replaced_through_get_token() {
    let Some(url) = option_env!("PRESENCE_TEST_URL") else {
        return skip();
    };
    let calls = Rc::new(Cell::new(0));
    let counter = calls.clone();
    let carol = token("carol");
    let get_token = Closure::<dyn FnMut() -> Promise>::new(move || {
        counter.set(counter.get() + 1);
        Promise::resolve(&JsValue::from_str(&carol))
    });
    let c = client(&[
        ("url", url.into()),
        ("token", "expired-or-forged".into()),
        ("getToken", get_token.as_ref().clone()),
    ]);
    let errors = Recorder::new(&c, "error");
    c.connect().unwrap();
    assert!(until(5_000, || open(&c)).await, "{}", c.connection_state());
    assert_eq!(calls.get(), 1);
    assert_eq!(errors.len(), 0, "a refresh the app handled is no error");
    assert_eq!(
        get(&get(&c.me(), "user"), "id").as_string().as_deref(),
        Some("carol")
    );
    c.destroy();

    // Without getToken, the same refusal is final and reported.
    let d = client(&[("url", url.into()), ("token", "forged".into())]);
    let errors = Recorder::new(&d, "error");
    d.connect().unwrap();
    assert!(until(5_000, || errors.len() == 1).await);
    assert_eq!(errors.field("code"), ["unauthorized"]);
    assert_eq!(d.connection_state(), "closed");
    d.destroy();
}

#[wasm_bindgen_test]
async fn an_idle_device_shows_as_away_to_watchers() {
    let (Some(dave), Some(erin)) = (
        server_client("dave", &[("idleAfterMs", 800.into())]),
        server_client("erin", &[]),
    ) else {
        return skip();
    };
    erin.watch(Array::of1(&"dave".into()).into()).unwrap();
    dave.connect().unwrap();
    erin.connect().unwrap();
    let status = || get(&erin.user("dave"), "status").as_string();
    assert!(until(3_000, || status().as_deref() == Some("online")).await);
    assert!(
        until(3_000, || status().as_deref() == Some("away")).await,
        "idle after 0.8 s: {:?}",
        status()
    );
    dispatch_on_window("mousemove");
    assert!(until(2_000, || status().as_deref() == Some("online")).await);
    dave.destroy();
    erin.destroy();
}

#[wasm_bindgen_test]
async fn destroy_from_inside_a_listener_still_leaves_first() {
    let (Some(carol), Some(dave)) = (server_client("carol", &[]), server_client("dave", &[]))
    else {
        return skip();
    };
    let carol = Rc::new(carol);
    let room = unique("goodbye");
    carol.join(room.clone()).unwrap();
    dave.join(room.clone()).unwrap();
    carol.connect().unwrap();
    dave.connect().unwrap();
    assert!(until(5_000, || members(&dave, &room) == ["carol", "dave"]).await);
    // Carol's app destroys the client when dave starts typing, inside the event.
    let inner = carol.clone();
    let on_typing = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| inner.destroy());
    carol
        .on(
            "typing",
            on_typing.as_ref().unchecked_ref::<Function>().clone(),
        )
        .unwrap();
    dave.typing(room.clone()).unwrap();
    assert!(until(2_000, || carol.connection_state() == "closed").await);
    assert_eq!(carol.debug_handles(), (0, 0, 0, 0));
    assert!(
        until(1_200, || members(&dave, &room) == ["dave"]).await,
        "the leave went out before the socket closed (no 2 s grace wait)"
    );
    dave.destroy();
}
