//! SMS encoding and segments, exactly as carriers count them: GSM-7 (GSM 03.38, with the
//! extension table costing two septets) or UCS-2 (UTF-16 code units) for the whole message when
//! one character is outside GSM-7; 160 / 70 units in one SMS, 153 / 67 per part once concatenated,
//! never splitting an escape pair or a surrogate pair across parts.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// What a draft costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: usize,
    /// Units still free in the last segment before another one is needed.
    pub remaining: usize,
}

/// The GSM 03.38 default alphabet, one septet each.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: each is ESC plus a code, two septets.
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// Septets a character costs in GSM-7, or `None` when it has no GSM-7 form.
fn gsm7_cost(c: char) -> Option<usize> {
    if c == '\u{1b}' {
        return None;
    }
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Packs unit costs into parts of `per_part` without splitting a character.
fn pack(costs: impl Iterator<Item = usize>, per_part: usize) -> (usize, usize) {
    let (mut parts, mut used) = (1, 0);
    for c in costs {
        if used + c > per_part {
            parts += 1;
            used = 0;
        }
        used += c;
    }
    (parts, per_part - used)
}

/// Counts the encoding and segments of a text.
pub fn segments(text: &str) -> Segments {
    let gsm: Option<Vec<usize>> = text.chars().map(gsm7_cost).collect();
    let (encoding, costs, single, per_part) = match gsm {
        Some(costs) => (Encoding::Gsm7, costs, 160, 153),
        None => (
            Encoding::Ucs2,
            text.chars().map(char::len_utf16).collect(),
            70,
            67,
        ),
    };
    let units: usize = costs.iter().sum();
    if units == 0 {
        return Segments {
            encoding,
            units,
            segments: 0,
            remaining: single,
        };
    }
    if units <= single {
        return Segments {
            encoding,
            units,
            segments: 1,
            remaining: single - units,
        };
    }
    let (segments, remaining) = pack(costs.into_iter(), per_part);
    Segments {
        encoding,
        units,
        segments,
        remaining,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn count(s: &str) -> (Encoding, usize, usize) {
        let r = segments(s);
        (r.encoding, r.units, r.segments)
    }

    /// Figures observed with Twilio's segment calculator (channels reference, section 2.3).
    #[test]
    fn matches_the_carriers_calculator() {
        let a = |n| "a".repeat(n);
        assert_eq!(count(&a(160)), (Encoding::Gsm7, 160, 1));
        assert_eq!(count(&a(161)), (Encoding::Gsm7, 161, 2));
        assert_eq!(count(&a(306)), (Encoding::Gsm7, 306, 2));
        assert_eq!(count(&a(307)), (Encoding::Gsm7, 307, 3));
        let e = |n| "ê".repeat(n);
        assert_eq!(count(&e(70)), (Encoding::Ucs2, 70, 1));
        assert_eq!(count(&e(71)), (Encoding::Ucs2, 71, 2));
        assert_eq!(count(&e(134)), (Encoding::Ucs2, 134, 2));
        assert_eq!(count(&e(135)), (Encoding::Ucs2, 135, 3));
        assert_eq!(count(&"{".repeat(80)), (Encoding::Gsm7, 160, 1));
        assert_eq!(count(&"{".repeat(81)), (Encoding::Gsm7, 162, 2));
        assert_eq!(count(&"😀".repeat(35)), (Encoding::Ucs2, 70, 1));
        assert_eq!(count(&"😀".repeat(36)), (Encoding::Ucs2, 72, 2));
        assert_eq!(count(&format!("{}😀", a(69))), (Encoding::Ucs2, 71, 2));
    }

    #[test]
    fn one_character_outside_gsm7_switches_the_whole_message() {
        assert_eq!(segments("Hello $5 @ Ça va? ¿Qué?").encoding, Encoding::Gsm7);
        for c in ["`", "ç", "ê", "í", "“", "😀"] {
            assert_eq!(
                segments(&format!("Hello {c}")).encoding,
                Encoding::Ucs2,
                "{c}"
            );
        }
        assert_eq!(segments("").segments, 0);
        assert_eq!(segments("hi").remaining, 158);
    }

    #[test]
    fn escape_and_surrogate_pairs_are_never_split() {
        // 152 + 2 + 152 = 306 septets: naively 2 parts, but the `{` cannot straddle the first boundary.
        let s = format!("{}{{{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(count(&s), (Encoding::Gsm7, 306, 3));
        // 66 units, then an emoji's surrogate pair does not fit in part one's 67.
        let u = format!("{}😀{}", "ê".repeat(66), "ê".repeat(66));
        assert_eq!(count(&u), (Encoding::Ucs2, 134, 3));
    }

    proptest! {
        #[test]
        fn units_add_up_and_parts_cover_them(s in "\\PC{0,400}") {
            let r = segments(&s);
            let per = if r.encoding == Encoding::Gsm7 { 153 } else { 67 };
            if r.segments > 1 {
                prop_assert!(r.units <= r.segments * per);
                prop_assert!(r.units > (r.segments - 1) * per - r.segments);
            }
            if r.encoding == Encoding::Ucs2 {
                prop_assert_eq!(r.units, s.encode_utf16().count());
            }
        }
    }
}
