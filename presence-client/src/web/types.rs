//! The TypeScript declarations of the package. wasm-bindgen would declare every
//! `JsValue` as `any`; these say what each method takes and each event carries.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("presence-client.d.ts");
