use super::*;

/// Values each type takes and refuses, read off REDCap's pattern (the
/// comment says which part of it decides).
const EXAMPLES: &[(&str, &[&str], &[&str])] = &[
    // Letters only, any case (`/i`); no digits, spaces or accents.
    ("alpha_only", &["abc", "ABCdef"], &["abc1", "a b", "é", ""]),
    // Separators `-` or `/`, the same twice; a real day of the month;
    // 29 February only in a leap year; a four-digit year.
    (
        "date_dmy",
        &["31-05-2024", "31/05/2024", "29-02-2024", "29/02/2000"],
        &[
            "31-04-2024",
            "29-02-2023",
            "29-02-1900",
            "31-05/2024",
            "31.05.2024",
            "31052024",
            "2024-05-31",
            "1-05-2024",
        ],
    ),
    (
        "date_mdy",
        &["05-31-2024", "05/31/2024", "02-29-2024"],
        &["31-05-2024", "02-29-2023", "05-31/2024", "5-31-2024"],
    ),
    (
        "date_ymd",
        &[
            "2024-05-31",
            "2024/05/31",
            "2024-02-29",
            "2000-02-29",
            "0001-01-01",
        ],
        &[
            "2024-5-31",
            "2024-05-32",
            "2023-02-29",
            "1900-02-29",
            "2024-02-30",
            "2024-06-31",
            "2024-05/31",
            "24-05-31",
            "20240531",
            "2024-05-31 13:45",
        ],
    ),
    // A space, then the hour (one digit or two, to 23) and minutes.
    (
        "datetime_ymd",
        &["2024-05-31 13:45", "2024-05-31 9:05", "2024/05/31 00:00"],
        &[
            "2024-05-31",
            "2024-05-31 24:00",
            "2024-05-31 13:60",
            "2024-05-31T13:45",
            "2024-05-31 13:45:08",
        ],
    ),
    (
        "datetime_mdy",
        &["05-31-2024 13:45"],
        &["2024-05-31 13:45", "05-31-2024 13:45:08"],
    ),
    (
        "datetime_dmy",
        &["31-05-2024 13:45"],
        &["05-31-2024 13:45", "31-05-2024"],
    ),
    (
        "datetime_seconds_ymd",
        &["2024-05-31 13:45:08", "2024-02-29 9:00:00"],
        &[
            "2024-05-31 13:45",
            "2024-05-31 13:45:60",
            "2023-02-29 13:45:08",
        ],
    ),
    (
        "datetime_seconds_mdy",
        &["05-31-2024 13:45:08"],
        &["31-05-2024 13:45:08"],
    ),
    (
        "datetime_seconds_dmy",
        &["31-05-2024 13:45:08"],
        &["05-31-2024 13:45:08"],
    ),
    // Not starting with a dot, no two dots in a row, a dot-free start
    // after `@`, and a last label of two or more letters.
    (
        "email",
        &[
            "ada@example.org",
            "first.last+tag@sub.example.co.uk",
            "o'brien@example.ie",
            "jürgen@beispiel.de",
        ],
        &[
            ".ada@example.org",
            "ada..b@example.org",
            "ada@.example.org",
            "ada@example",
            "ada@example.c",
            "ada@example.org1",
            "ada example@example.org",
            "ada@@example.org",
        ],
    ),
    // An optional sign, digits only.
    (
        "integer",
        &["42", "-7", "+7", "007"],
        &["4.0", "1e3", "", "- 7", "42 "],
    ),
    (
        "mrn_10d",
        &["0123456789"],
        &["123456789", "01234567890", "012345678a"],
    ),
    // Letters (any case), digits, `-` and `_`.
    ("mrn_generic", &["AB-12_cd"], &["AB 12", "AB.12"]),
    // Sign, digits with at most one dot, a digit after the dot, an
    // exponent.
    (
        "number",
        &["3.5", "-3.5", ".5", "+12", "1e3", "1.5E-3", "007"],
        &["3.", "3,5", "1e", "1.2.3", "", "e3", "--3"],
    ),
    (
        "number_1dp",
        &["22.0", "-0.5"],
        &["22", "22.00", ".5", "+2.0", "2,0"],
    ),
    ("number_2dp", &["22.00", "-1.25"], &["22.0", "22.000"]),
    ("number_3dp", &["22.000"], &["22.00", "22.0000"]),
    ("number_4dp", &["22.0000"], &["22.000", "22"]),
    (
        "number_comma_decimal",
        &["3,5", "-3,5", ",5", "12", "1e3"],
        &["3.5", "3,", "1,2,3"],
    ),
    (
        "number_1dp_comma_decimal",
        &["22,0"],
        &["22.0", "22", "22,00"],
    ),
    ("number_2dp_comma_decimal", &["22,00"], &["22,0"]),
    ("number_3dp_comma_decimal", &["22,000"], &["22,00"]),
    ("number_4dp_comma_decimal", &["22,0000"], &["22,000"]),
    // Area code 2-9 then not 11 (or 800, 811), exchange not N11, four
    // digits, optional separators and extension.
    (
        "phone",
        &[
            "(615) 555-0123",
            "615-555-0123",
            "615.555.0123",
            "6155550123",
            "615 555 0123 x12",
            "615-555-0123 ext. 4",
        ],
        &[
            "(911) 555-0123",
            "615-911-0123",
            "115-555-0123",
            "615-555-012",
            "+1 615 555 0123",
            "1-615-555-0123",
        ],
    ),
    (
        "phone_australia",
        &["02 9876 5432", "(02) 9876 5432", "0298765432"],
        &["01 9876 5432", "2 9876 5432", "02 9876 543"],
    ),
    ("postalcode_australia", &["2000"], &["200", "20000"]),
    (
        "postalcode_canada",
        &["K1A 0B1", "k1a0b1", "K1A  0B1"],
        &["D1A 0B1", "K1A-0B1", "KIA 0B1"],
    ),
    ("ssn", &["123-45-6789"], &["123456789", "123-456-789"]),
    // Hour of one or two digits to 23, two-digit minutes.
    (
        "time",
        &["13:45", "9:05", "00:00", "23:59"],
        &["24:00", "13:60", "1:5", "13:45:08"],
    ),
    // Minutes and seconds, each 00 to 59.
    (
        "time_mm_ss",
        &["04:30", "59:59"],
        &["60:00", "75:00", "4:30", "04:60"],
    ),
    (
        "time_hh_mm_ss",
        &["13:45:08", "9:00:00"],
        &["24:00:00", "13:45", "13:45:60"],
    ),
    ("vmrn", &["1234", "123456789"], &["123", "1234567890"]),
    (
        "zipcode",
        &["37203", "37203-1234"],
        &["3720", "37203-12", "37203 1234"],
    ),
    (
        "postalcode_germany",
        &["01067", "80331"],
        &["00123", "8033"],
    ),
    (
        "postalcode_uk",
        &["SW1A 1AA", "M1 1AE", "B33 8TH"],
        &["SW1A1AA", "sw1a 1aa", "M1 1CE"],
    ),
    (
        "postalcode_french",
        &["75001", "1000", "98000"],
        &["99000", "750011"],
    ),
    (
        "phone_uk",
        &["020 7946 0958", "+44 20 7946 0958", "01632 960 983"],
        &["20 7946 0958", "+33 20 7946 0958"],
    ),
    (
        "phone_france",
        &["01 23 45 67 89", "+33 1 23 45 67 89", "0123456789"],
        &["00 23 45 67 89", "01 23 45 67"],
    ),
];

#[test]
fn every_type_redcap_ships_translates_for_the_regex_crate() {
    for t in TYPES {
        assert!(
            Matcher::compile(t.regex_php).is_ok(),
            "{}: {:?}",
            t.name,
            Matcher::compile(t.regex_php).err()
        );
    }
}

#[test]
fn each_type_takes_and_refuses_values_as_its_pattern_says() {
    for (name, good, bad) in EXAMPLES {
        for v in *good {
            assert_eq!(passes(name, v), Some(true), "{name} should take {v:?}");
        }
        for v in *bad {
            assert_eq!(passes(name, v), Some(false), "{name} should refuse {v:?}");
        }
    }
}

#[test]
fn every_type_has_examples() {
    for t in TYPES {
        assert!(
            EXAMPLES.iter().any(|(n, _, _)| *n == t.name),
            "no examples for {}",
            t.name
        );
    }
}

#[test]
fn legacy_names_mean_their_types_and_unknown_names_nothing() {
    assert_eq!(lookup("int").map(|t| t.name), Some("integer"));
    assert_eq!(lookup("float").map(|t| t.name), Some("number"));
    assert_eq!(lookup("date").map(|t| t.name), Some("date_ymd"));
    assert_eq!(lookup("datetime").map(|t| t.name), Some("datetime_ymd"));
    assert_eq!(
        lookup("datetime_seconds").map(|t| t.name),
        Some("datetime_seconds_ymd")
    );
    assert_eq!(passes("int", "12"), Some(true));
    assert_eq!(passes("time_hh_mm", "12:00"), None);
    assert_eq!(passes("signature", "x"), None);
}

#[test]
fn a_pattern_the_translation_does_not_know_is_an_error() {
    assert!(Matcher::compile(r"/^(?=a)b$/").is_err());
    assert!(Matcher::compile(r"/^a(?!\.)b$/").is_err());
    assert!(Matcher::compile(r"/^(a)\1$/").is_err());
    assert!(Matcher::compile(r"/^a$/x").is_err());
    assert!(Matcher::compile(r"^a$").is_err());
}

#[test]
fn without_the_u_flag_a_pattern_is_matched_byte_by_byte() {
    // PCRE without `u` is ASCII: `/i` folds ASCII letters only, so the
    // Kelvin sign is not a `k`, and `\d` is not an Arabic-Indic digit.
    assert_eq!(passes("alpha_only", "\u{212A}"), Some(false));
    assert_eq!(passes("integer", "\u{0663}"), Some(false));
}

#[test]
fn dates_are_checked_in_ymd_and_reordered_from_date_format() {
    assert_eq!(import_type("date_mdy"), "date_ymd");
    assert_eq!(import_type("date_dmy"), "date_ymd");
    assert_eq!(import_type("datetime_dmy"), "datetime_ymd");
    assert_eq!(import_type("datetime_seconds_mdy"), "datetime_seconds_ymd");
    assert_eq!(import_type("date"), "date_ymd");
    assert_eq!(import_type("integer"), "integer");
    assert_eq!(import_type("no_such_type"), "no_such_type");
    assert!(is_date_type("datetime_seconds_dmy"));
    assert!(!is_date_type("time"));

    assert_eq!(to_ymd("05/31/2024", DateFormat::Mdy), "2024/05/31");
    assert_eq!(
        to_ymd("31-05-2024 13:45", DateFormat::Dmy),
        "2024-05-31 13:45"
    );
    assert_eq!(to_ymd("2024-05-31", DateFormat::Ymd), "2024-05-31");
    assert_eq!(to_ymd("31052024", DateFormat::Dmy), "31052024");
    assert_eq!(stored_date("2024/05/31 9:05"), "2024-05-31 9:05");
    assert_eq!(DateFormat::parse("MDY"), Some(DateFormat::Mdy));
    assert_eq!(DateFormat::parse("mdy"), None);
}
