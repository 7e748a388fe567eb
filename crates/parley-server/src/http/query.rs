//! The query string: refused when it names a parameter the route does not take, read into the
//! route's struct, and described (names and types) for the API document; `limit` and `cursor`.

use serde::de::DeserializeOwned;

use crate::http::error::ApiError;

/// Marks a request whose query the route's `check_query` has passed.
#[derive(Clone, Copy)]
pub struct QueryChecked;

/// Reads a query string into `T` (see [`Query`]).
pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    check_query(raw.unwrap_or(""), query_params::<T>())?;
    read_query(raw)
}

/// Reads a query string into `T`, letting parameters it does not name be (for pages and hooks
/// whose callers may add their own).
pub fn read_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    let raw = raw.unwrap_or("");
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = match e.path().to_string().as_str() {
            "." | "" => e.inner().to_string(),
            name => format!("`{name}`: {}", e.inner()),
        };
        ApiError::bad_request("invalid_query", message)
    })
}

/// Refuses a query parameter not in `allowed`, or given twice, naming it: a misspelt filter
/// would otherwise be ignored and the answer look right.
pub fn check_query(raw: &str, allowed: &[&str]) -> Result<(), ApiError> {
    let mut seen: Vec<std::borrow::Cow<'_, str>> = Vec::new();
    for (name, _) in form_urlencoded::parse(raw.as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            let takes = if allowed.is_empty() {
                "this endpoint takes none".to_string()
            } else {
                format!("this endpoint takes {}", allowed.join(", "))
            };
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("unknown query parameter `{name}`: {takes}"),
            ));
        }
        if seen.contains(&name) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("query parameter `{name}` is given more than once"),
            ));
        }
        seen.push(name);
    }
    Ok(())
}

/// A query that takes no parameters.
#[derive(serde::Deserialize)]
pub struct NoQuery {}

/// The parameter names a query struct takes, read from its derived `Deserialize` (the field
/// names it hands serde), so the check above and the API document use the one definition.
pub fn query_params<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Names<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Names<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _: V,
        ) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("a query is a struct"))
        }

        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(serde::de::Error::custom("only the names were wanted"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(Names(&mut names));
    names
}

/// The JSON Schema type of each parameter `T` takes, in the order of [`query_params`]: the
/// primitive its derived `Deserialize` asks for (`integer`, `number`, `boolean`, else `string`).
pub fn query_types<T: DeserializeOwned>() -> Vec<&'static str> {
    (0..query_params::<T>().len())
        .map(|index| {
            let mut ty = "string";
            let _ = T::deserialize(probe::One {
                index,
                out: &mut ty,
            });
            ty
        })
        .collect()
}

/// The deserializers [`query_types`] hands a query struct to learn what each field asks for.
mod probe {
    use serde::de::value::{BorrowedStrDeserializer, Error};
    use serde::de::{DeserializeSeed, MapAccess, Visitor};

    /// Hands the struct one field, whose value records what it is asked to be.
    pub(super) struct One<'a> {
        pub(super) index: usize,
        pub(super) out: &'a mut &'static str,
    }
    struct Field<'a> {
        name: Option<&'static str>,
        out: &'a mut &'static str,
    }
    struct Probe<'a>(&'a mut &'static str);

    impl<'de> serde::Deserializer<'de> for One<'_> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(serde::de::Error::custom("a query is a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            visitor.visit_map(Field {
                name: fields.get(self.index).copied(),
                out: self.out,
            })
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    impl<'de> MapAccess<'de> for Field<'_> {
        type Error = Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Error> {
            self.name
                .map(|n| seed.deserialize(BorrowedStrDeserializer::new(n)))
                .transpose()
        }

        fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
            seed.deserialize(Probe(self.out))
        }
    }

    macro_rules! record {
        ($ty:literal: $($method:ident)*) => {
            $(fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
                *self.0 = $ty;
                Err(serde::de::Error::custom("only the type was wanted"))
            })*
        };
    }

    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = Error;

        record!("integer": deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
            deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
            deserialize_u128);
        record!("number": deserialize_f32 deserialize_f64);
        record!("boolean": deserialize_bool);
        record!("string": deserialize_any);

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_some(self)
        }

        serde::forward_to_deserialize_any! {
            char str string bytes byte_buf unit unit_struct newtype_struct seq tuple
            tuple_struct map struct enum identifier ignored_any
        }
    }
}

/// Checks a `limit` query parameter: 1 to `max`, `default` when absent.
pub(crate) fn limit(v: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match v {
        None => Ok(default),
        Some(n) => Some(n).filter(|n| (1..=max).contains(n)).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("limit must be a number from 1 to {max}"),
            )
        }),
    }
}

/// Decodes a pagination cursor, answering 400 `invalid_cursor`.
pub(crate) fn cursor(v: Option<&str>) -> Result<Option<parley_store::Cursor>, ApiError> {
    match v {
        None | Some("") => Ok(None),
        Some(s) => parley_store::Cursor::decode(s).map(Some).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_cursor",
                "the cursor is not one this server gave out",
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "read by the tests through Debug only")]
    struct Q {
        inbox: Option<String>,
        limit: Option<u32>,
    }

    fn code_field(e: ApiError) -> (&'static str, Option<String>, String) {
        let message = e.to_string();
        match e {
            ApiError::BadRequest { code, .. } => (code, None, message),
            ApiError::BadBody { code, field, .. } => (code, field, message),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn query_names_come_from_the_struct() {
        assert_eq!(query_params::<Q>(), ["inbox", "limit"]);
        assert_eq!(query_types::<Q>(), ["string", "integer"]);
        assert!(query_params::<NoQuery>().is_empty());
    }

    #[test]
    fn unknown_repeated_and_bad_query_parameters_are_named() {
        let (code, _, m) = code_field(parse_query::<Q>(Some("inbox_id=1")).unwrap_err());
        assert_eq!(code, "invalid_query");
        assert!(
            m.contains("`inbox_id`") && m.contains("inbox, limit"),
            "{m}"
        );
        let (_, _, m) = code_field(parse_query::<Q>(Some("limit=1&limit=2")).unwrap_err());
        assert!(m.contains("`limit`"), "{m}");
        let (_, _, m) = code_field(parse_query::<Q>(Some("limit=ten")).unwrap_err());
        assert!(m.starts_with("`limit`"), "{m}");
        assert!(parse_query::<Q>(Some("inbox=a&limit=3")).is_ok());
        assert!(parse_query::<NoQuery>(None).is_ok());
        assert!(parse_query::<NoQuery>(Some("x=1")).is_err());
    }
}
