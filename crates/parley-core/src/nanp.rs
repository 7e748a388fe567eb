//! Where a North American number is, from its area code: the US state or territory (for state
//! texting laws) and the time zones it spans (for quiet hours in the recipient's local time).
//! Geographic area codes of the US and its territories only; toll-free, Canadian and other
//! numbers have no place here and fall back to the contact's or the workspace's time zone.

/// A US state or territory's area codes (NANPA assignments) and its usual time zone.
struct Region {
    state: &'static str,
    zone: &'static str,
    codes: &'static [u16],
}

const NY: &str = "America/New_York";
const CHI: &str = "America/Chicago";
const DEN: &str = "America/Denver";
const LA: &str = "America/Los_Angeles";

#[rustfmt::skip]
const REGIONS: &[Region] = &[
    Region { state: "AL", zone: CHI, codes: &[205, 251, 256, 334, 659, 938] },
    Region { state: "AK", zone: "America/Anchorage", codes: &[907] },
    Region { state: "AZ", zone: "America/Phoenix", codes: &[480, 520, 602, 623, 928] },
    Region { state: "AR", zone: CHI, codes: &[327, 479, 501, 870] },
    Region {
        state: "CA",
        zone: LA,
        codes: &[
            209, 213, 279, 310, 323, 341, 350, 369, 408, 415, 424, 442, 510, 530, 559, 562, 619,
            626, 628, 650, 657, 661, 669, 707, 714, 747, 760, 805, 818, 820, 831, 840, 858, 909,
            916, 925, 949, 951,
        ],
    },
    Region { state: "CO", zone: DEN, codes: &[303, 719, 720, 970, 983] },
    Region { state: "CT", zone: NY, codes: &[203, 475, 860, 959] },
    Region { state: "DE", zone: NY, codes: &[302] },
    Region { state: "DC", zone: NY, codes: &[202, 771] },
    Region {
        state: "FL",
        zone: NY,
        codes: &[
            239, 305, 321, 324, 352, 386, 407, 448, 561, 645, 656, 689, 727, 728, 754, 772, 786,
            813, 850, 863, 904, 941, 954,
        ],
    },
    Region { state: "GA", zone: NY, codes: &[229, 404, 470, 478, 678, 706, 762, 770, 912, 943] },
    Region { state: "HI", zone: "Pacific/Honolulu", codes: &[808] },
    Region { state: "ID", zone: "America/Boise", codes: &[208, 986] },
    Region {
        state: "IL",
        zone: CHI,
        codes: &[
            217, 224, 309, 312, 331, 447, 464, 618, 630, 708, 730, 773, 779, 815, 847, 861, 872,
        ],
    },
    Region {
        state: "IN",
        zone: "America/Indiana/Indianapolis",
        codes: &[219, 260, 317, 463, 574, 765, 812, 930],
    },
    Region { state: "IA", zone: CHI, codes: &[319, 515, 563, 641, 712] },
    Region { state: "KS", zone: CHI, codes: &[316, 620, 785, 913] },
    Region { state: "KY", zone: NY, codes: &[270, 364, 502, 606, 859] },
    Region { state: "LA", zone: CHI, codes: &[225, 318, 337, 504, 985] },
    Region { state: "ME", zone: NY, codes: &[207] },
    Region { state: "MD", zone: NY, codes: &[227, 240, 301, 410, 443, 667] },
    Region { state: "MA", zone: NY, codes: &[339, 351, 413, 508, 617, 774, 781, 857, 978] },
    Region {
        state: "MI",
        zone: "America/Detroit",
        codes: &[231, 248, 269, 313, 517, 586, 616, 679, 734, 810, 906, 947, 989],
    },
    Region { state: "MN", zone: CHI, codes: &[218, 320, 507, 612, 651, 763, 924, 952] },
    Region { state: "MS", zone: CHI, codes: &[228, 601, 662, 769] },
    Region { state: "MO", zone: CHI, codes: &[235, 314, 417, 557, 573, 636, 660, 816, 975] },
    Region { state: "MT", zone: DEN, codes: &[406] },
    Region { state: "NE", zone: CHI, codes: &[308, 402, 531] },
    Region { state: "NV", zone: LA, codes: &[702, 725, 775] },
    Region { state: "NH", zone: NY, codes: &[603] },
    Region { state: "NJ", zone: NY, codes: &[201, 551, 609, 640, 732, 848, 856, 862, 908, 973] },
    Region { state: "NM", zone: DEN, codes: &[505, 575] },
    Region {
        state: "NY",
        zone: NY,
        codes: &[
            212, 315, 329, 332, 347, 363, 516, 518, 585, 607, 624, 631, 646, 680, 716, 718, 838,
            845, 914, 917, 929, 934,
        ],
    },
    Region { state: "NC", zone: NY, codes: &[252, 336, 472, 704, 743, 828, 910, 919, 980, 984] },
    Region { state: "ND", zone: CHI, codes: &[701] },
    Region {
        state: "OH",
        zone: NY,
        codes: &[216, 220, 234, 326, 330, 380, 419, 436, 440, 513, 567, 614, 740, 937],
    },
    Region { state: "OK", zone: CHI, codes: &[405, 539, 572, 580, 918] },
    Region { state: "OR", zone: LA, codes: &[458, 503, 541, 971] },
    Region {
        state: "PA",
        zone: NY,
        codes: &[215, 223, 267, 272, 412, 445, 484, 570, 582, 610, 717, 724, 814, 835, 878],
    },
    Region { state: "RI", zone: NY, codes: &[401] },
    Region { state: "SC", zone: NY, codes: &[803, 821, 839, 843, 854, 864] },
    Region { state: "SD", zone: CHI, codes: &[605] },
    Region { state: "TN", zone: CHI, codes: &[423, 615, 629, 731, 865, 901, 931] },
    Region {
        state: "TX",
        zone: CHI,
        codes: &[
            210, 214, 254, 281, 325, 346, 361, 409, 430, 432, 469, 512, 682, 713, 726, 737, 806,
            817, 830, 832, 903, 915, 936, 940, 945, 956, 972, 979,
        ],
    },
    Region { state: "UT", zone: DEN, codes: &[385, 435, 801] },
    Region { state: "VT", zone: NY, codes: &[802] },
    Region { state: "VA", zone: NY, codes: &[276, 434, 540, 571, 686, 703, 757, 804, 826, 948] },
    Region { state: "WA", zone: LA, codes: &[206, 253, 360, 425, 509, 564] },
    Region { state: "WV", zone: NY, codes: &[304, 681] },
    Region { state: "WI", zone: CHI, codes: &[262, 274, 353, 414, 534, 608, 715, 920] },
    Region { state: "WY", zone: DEN, codes: &[307] },
    Region { state: "PR", zone: "America/Puerto_Rico", codes: &[787, 939] },
    Region { state: "VI", zone: "America/St_Thomas", codes: &[340] },
    Region { state: "GU", zone: "Pacific/Guam", codes: &[671] },
    Region { state: "MP", zone: "Pacific/Saipan", codes: &[670] },
    Region { state: "AS", zone: "Pacific/Pago_Pago", codes: &[684] },
];

/// Area codes whose territory crosses a time-zone line or differs from its state's usual zone.
/// Quiet hours must hold in every zone a code may place the recipient in.
const ZONES: &[(u16, &[&str])] = &[
    (850, &[CHI, NY]),
    (448, &[CHI, NY]),
    (219, &[CHI]),
    (812, &["America/Indiana/Indianapolis", CHI]),
    (930, &["America/Indiana/Indianapolis", CHI]),
    (574, &["America/Indiana/Indianapolis", CHI]),
    (270, &[CHI, NY]),
    (364, &[CHI, NY]),
    (606, &[NY, CHI]),
    (423, &[NY, CHI]),
    (865, &[NY]),
    (931, &[CHI, NY]),
    (906, &["America/Detroit", "America/Menominee"]),
    (605, &[CHI, DEN]),
    (701, &[CHI, DEN]),
    (308, &[CHI, DEN]),
    (785, &[CHI, DEN]),
    (620, &[CHI, DEN]),
    (915, &[DEN]),
    (208, &["America/Boise", LA]),
    (986, &["America/Boise", LA]),
    (541, &[LA, "America/Boise"]),
    (458, &[LA, "America/Boise"]),
    (928, &["America/Phoenix", DEN]),
    (907, &["America/Anchorage", "America/Adak"]),
];

/// Where a number with this area code is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Two-letter US state or territory code.
    pub state: &'static str,
    /// Every IANA zone the area code spans, the usual one first.
    pub zones: Vec<&'static str>,
}

/// The area code of a North American number in E.164 (`+1NXXNXXXXXX`).
pub fn area_code(e164: &str) -> Option<u16> {
    let digits = e164.strip_prefix("+1")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits[..3].parse().ok()
}

/// The state and zones of a US number, or `None` for any other number.
pub fn place(e164: &str) -> Option<Place> {
    let code = area_code(e164)?;
    let region = REGIONS.iter().find(|r| r.codes.contains(&code))?;
    let zones = ZONES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or_else(|| vec![region.zone], |(_, z)| z.to_vec());
    Some(Place {
        state: region.state,
        zones,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_placed_by_area_code() {
        assert_eq!(
            place("+14055550100"),
            Some(Place {
                state: "OK",
                zones: vec![CHI]
            })
        );
        assert_eq!(place("+12125550100").map(|p| p.state), Some("NY"));
        assert_eq!(place("+18505550100").map(|p| p.zones.len()), Some(2));
        assert_eq!(place("+19155550100").map(|p| p.zones), Some(vec![DEN]));
        assert_eq!(place("+18005550100"), None, "toll-free has no place");
        assert_eq!(place("+14165550100"), None, "Toronto is not in the US");
        assert_eq!(place("+447700900123"), None);
        assert_eq!(place("+1405555"), None);
    }

    #[test]
    fn every_code_is_listed_once_and_every_zone_exists() {
        let mut seen = std::collections::HashSet::new();
        for r in REGIONS {
            for c in r.codes {
                assert!(seen.insert(*c), "area code {c} is listed twice");
            }
        }
        for (c, _) in ZONES {
            assert!(seen.contains(c), "zone override for unlisted code {c}");
        }
        let zones = REGIONS
            .iter()
            .map(|r| r.zone)
            .chain(ZONES.iter().flat_map(|(_, z)| z.iter().copied()));
        for z in zones {
            assert!(jiff::tz::TimeZone::get(z).is_ok(), "unknown zone {z}");
        }
    }
}
