//! The answer to one of the filter's own `dispatch_http_call`s, read without trusting the host
//! to answer every read with `Ok` or `NotFound`.
//!
//! The SDK's getters panic on any other status, and a panic traps the VM: every request on it
//! then fails. Envoy answers a header read of a call that failed after its headers arrived (an
//! origin that cut its body short: `tests/envoy_filter.rs`, `Behaviour::Truncated`) with such a
//! status, so a truncated origin answer killed the filter. Here any status but `Ok` is "no such
//! header" / "no body": the core then sees a failed read and answers with the last good file or
//! a clean 5xx.

/// `MapType::HttpCallResponseHeaders` of the proxy-wasm ABI.
#[cfg(target_arch = "wasm32")]
const CALL_RESPONSE_HEADERS: u32 = 6;
/// `BufferType::HttpCallResponseBody` of the proxy-wasm ABI.
#[cfg(target_arch = "wasm32")]
const CALL_RESPONSE_BODY: u32 = 4;
/// The ABI's `Status::Ok`.
#[cfg(target_arch = "wasm32")]
const OK: u32 = 0;

#[cfg(target_arch = "wasm32")]
extern "C" {
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
}

/// Takes ownership of what the host wrote: memory it allocated through the SDK's exported
/// `proxy_on_memory_allocate` (a `Vec<u8>` of exactly `size` bytes), as the SDK does.
#[cfg(target_arch = "wasm32")]
fn owned(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        return Vec::new();
    }
    // SAFETY: a non-null pointer the host returned with `Ok` was allocated by the SDK's
    // `proxy_on_memory_allocate` as a `Vec<u8>` with capacity `size`, holding `size` bytes,
    // and is handed over to us; nothing else frees it.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// The call's response header `name`; `None` when absent or when the host will not say.
#[cfg(target_arch = "wasm32")]
pub fn header(name: &str) -> Option<Vec<u8>> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: the host reads `name.len()` bytes of `name` during the call and writes the two
    // out-parameters, which live on this stack frame.
    let status = unsafe {
        proxy_get_header_map_value(
            CALL_RESPONSE_HEADERS,
            name.as_ptr(),
            name.len(),
            &mut data,
            &mut size,
        )
    };
    (status == OK).then(|| owned(data, size))
}

/// `size` bytes of the call's response body from `start`; `None` when the host will not say.
#[cfg(target_arch = "wasm32")]
pub fn body(start: usize, size: usize) -> Option<Vec<u8>> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut len: usize = 0;
    // SAFETY: as in `header`: two out-parameters on this frame, nothing else shared.
    let status =
        unsafe { proxy_get_buffer_bytes(CALL_RESPONSE_BODY, start, size, &mut data, &mut len) };
    (status == OK).then(|| owned(data, len))
}

/// Outside a proxy (the unit tests) there is no call.
#[cfg(not(target_arch = "wasm32"))]
pub fn header(_name: &str) -> Option<Vec<u8>> {
    None
}

/// Outside a proxy (the unit tests) there is no call.
#[cfg(not(target_arch = "wasm32"))]
pub fn body(_start: usize, _size: usize) -> Option<Vec<u8>> {
    None
}
