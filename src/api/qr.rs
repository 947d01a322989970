//! QR codes of links, so that a phone can open a link shown on another screen: an SVG document
//! made on the server (the pages embed it as an image; it holds no script).

use crate::error::{Error, Result};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The QR code of `text` as an SVG document.
pub fn svg(text: &str) -> Result<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| Error::internal(format!("QR code of a {}-byte text: {e}", text.len())))?;
    Ok(code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}
