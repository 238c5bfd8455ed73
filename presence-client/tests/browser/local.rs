//! Without a server: activity from DOM events and page visibility, snapshots, errors,
//! listeners, destroy.

use super::*;

#[wasm_bindgen_test]
async fn idle_after_inactivity_and_active_again_on_the_next_dom_input() {
    let c = client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
        ("idleAfterMs", 300.into()),
    ]);
    let me_events = Recorder::new(&c, "me");
    assert_eq!(activity(&c), "active");
    // Input keeps it active past idleAfterMs.
    for _ in 0..5 {
        sleep(100).await;
        dispatch_on_window("keydown");
    }
    assert_eq!(activity(&c), "active");
    assert!(until(1_000, || activity(&c) == "idle").await, "never idle");
    assert_eq!(me_events.len(), 1);
    for kind in ["mousemove", "mousedown", "scroll", "touchstart", "focus"] {
        dispatch_on_window(kind);
        assert_eq!(activity(&c), "active", "{kind} is input");
        assert!(until(1_000, || activity(&c) == "idle").await);
    }
    c.destroy();
}

#[wasm_bindgen_test]
async fn a_hidden_page_turns_idle_and_showing_it_turns_active() {
    let c = client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
        ("hiddenIdleMs", 300.into()),
    ]);
    set_page_hidden(true);
    sleep(150).await;
    assert_eq!(activity(&c), "active");
    assert!(until(1_000, || activity(&c) == "idle").await, "never idle");
    set_page_hidden(false);
    assert_eq!(activity(&c), "active", "shown at once");
    sleep(500).await;
    assert_eq!(
        activity(&c),
        "active",
        "visible: the 5 min rule applies again"
    );
    c.destroy();
}

#[wasm_bindgen_test]
fn snapshots_are_the_same_object_until_something_changes() {
    let c = client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
    ]);
    let me = c.me();
    assert!(Object::is(&me, &c.me()), "same object");
    assert!(Object::is_frozen(me.unchecked_ref::<Object>()));
    c.set_status("busy".into()).unwrap();
    let busy = c.me();
    assert!(!Object::is(&me, &busy), "a new object after a change");
    assert_eq!(get(&busy, "status").as_string().as_deref(), Some("busy"));
    assert!(Object::is(&busy, &c.me()));
    c.set_status("busy".into()).unwrap();
    assert!(Object::is(&busy, &c.me()), "no change, same object");
    assert!(c.room("nowhere").is_null());
    assert!(c.user("nobody").is_null());
    assert_eq!(c.connection_state(), "closed");
    c.destroy();
}

#[wasm_bindgen_test]
fn errors_are_js_errors_with_a_code() {
    let c = client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
    ]);
    for result in [
        c.join("not a room id".into()),
        c.set_status("sleepy".into()),
        c.set_privacy(5.into()),
        c.watch(JsValue::from(3)),
        c.on("nonsense", Function::new_no_args("")).map(|_| ()),
        c.set_custom_status(options(&[("text", 5.into())])),
    ] {
        let e = result.unwrap_err();
        assert!(e.is_instance_of::<js_sys::Error>());
        assert_eq!(
            get(&e, "code").as_string().as_deref(),
            Some("invalid_argument")
        );
    }
    for bad in [
        options(&[("token", "t".into())]),
        options(&[("url", "http://x".into()), ("token", "t".into())]),
        options(&[("url", "ws://x".into())]),
        options(&[
            ("url", "ws://x".into()),
            ("token", "t".into()),
            ("idleAfterMs", "soon".into()),
        ]),
        JsValue::from("ws://x"),
    ] {
        let e = PresenceClient::new(bad).unwrap_err();
        assert_eq!(
            get(&e, "code").as_string().as_deref(),
            Some("invalid_argument")
        );
    }
    c.destroy();
    let e = c.join("lobby".into()).unwrap_err();
    assert_eq!(get(&e, "code").as_string().as_deref(), Some("destroyed"));
}

#[wasm_bindgen_test]
async fn listeners_may_call_back_into_the_client_and_unsubscribe() {
    let c = Rc::new(client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
    ]));
    let calls = Rc::new(Cell::new(0));
    let (inner, counter) = (c.clone(), calls.clone());
    // A listener that reads snapshots, changes state and destroys the client from
    // inside the event: queued callbacks make that safe.
    let reentrant = Closure::<dyn FnMut(JsValue)>::new(move |me: JsValue| {
        counter.set(counter.get() + 1);
        assert!(Object::is(&me, &inner.me()));
        if get(&me, "status").as_string().as_deref() == Some("away") {
            inner.set_status("busy".into()).unwrap();
            inner.join("lobby".into()).unwrap();
            let _ = inner.room("lobby");
        }
    });
    c.on("me", reentrant.as_ref().unchecked_ref::<Function>().clone())
        .unwrap();
    let recorder = Recorder::new(&c, "me");
    c.set_status("away".into()).unwrap();
    assert_eq!(calls.get(), 2, "away, then the busy set from inside");
    assert_eq!(get(&c.me(), "status").as_string().as_deref(), Some("busy"));
    assert_eq!(recorder.len(), 2);
    recorder.unsubscribe.call0(&JsValue::NULL).unwrap();
    recorder.unsubscribe.call0(&JsValue::NULL).unwrap(); // twice is harmless
    c.set_status("online".into()).unwrap();
    assert_eq!(recorder.len(), 2, "unsubscribed");
    assert_eq!(calls.get(), 3);

    let destroyer = c.clone();
    let destroy_inside = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| destroyer.destroy());
    c.on(
        "me",
        destroy_inside.as_ref().unchecked_ref::<Function>().clone(),
    )
    .unwrap();
    c.set_status("away".into()).unwrap();
    assert_eq!(c.connection_state(), "closed");
    assert_eq!(c.debug_handles(), (0, 0, 0, 0));
}

#[wasm_bindgen_test]
async fn destroy_removes_every_listener_and_timer() {
    let c = client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
        ("idleAfterMs", 200.into()),
        ("backoffBaseMs", 50.into()),
    ]);
    let (dom, timers, _, _) = c.debug_handles();
    assert_eq!(dom, 12, "11 window listeners and visibilitychange");
    assert_eq!(timers, 1, "the idle deadline");
    let _recorder = Recorder::new(&c, "connection");
    // Nothing listens on port 9: the client keeps retrying until destroyed.
    c.connect().unwrap();
    sleep(300).await;
    assert_eq!(c.connection_state(), "reconnecting");
    c.destroy();
    assert_eq!(c.debug_handles(), (0, 0, 0, 0));
    assert_eq!(c.connection_state(), "closed");
    let me = c.me();
    dispatch_on_window("mousemove");
    set_page_hidden(true);
    set_page_hidden(false);
    sleep(400).await;
    assert!(
        Object::is(&me, &c.me()),
        "no listener or timer reached the client"
    );
    c.destroy(); // idempotent
}
