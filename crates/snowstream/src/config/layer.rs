//! `settings!`: declares a group of settings once — flag, environment variable, TOML key,
//! default and help text on one field — and derives from it everything the layers need.
//!
//! ```ignore
//! settings! {
//!     /// The HTTP receiver.
//!     pub struct ListenerArgs => Listener {
//!         /// Address to listen on.
//!         #[arg(long, env = "SNOWSTREAM_LISTEN")]
//!         listen: SocketAddr = "0.0.0.0:8080",
//!         /// Require this bearer token.
//!         #[arg(long, env = "SNOWSTREAM_AUTH_TOKEN", hide_env_values = true)]
//!         auth_token: String,
//!     }
//! }
//! ```
//!
//! generates
//! - `ListenerArgs`, every field `Option<T>`: a `clap::Args` group (the flag is the field name
//!   in kebab case; `defaults()` ([`defaults_in_help`](super::defaults_in_help)) appends `[default: …]` to its help)
//!   and a serde struct (the TOML key is
//!   the field name, or its `#[serde(rename)]`); values parse with `T: FromStr` in both;
//! - `ListenerArgs::or(self, lower)`: the layer above wins field by field, blank values don't;
//! - `Listener`, resolved: `T` where a default is declared, `Option<T>` where none is. A default
//!   is the text a flag would carry, or a library's own default as `Lib(…)` (declared once, in
//!   `server::defaults` or `landing::defaults`); either way the help shows it as a flag would
//!   write it (`value::Declared`).
//!
//! Layers stack defaults < TOML file < environment < flags (clap already lets a flag win over
//! its environment variable), so adding a setting is adding one field here and using it.

macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub struct $args:ident => $resolved:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty $(= $default:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, clap::Args, serde::Deserialize)]
        pub struct $args {
            $(
                $(#[$fmeta])*
                #[serde(default, deserialize_with = "crate::config::value::parsed")]
                pub $field: Option<$ty>,
            )*
        }

        #[doc = concat!("[`", stringify!($args), "`] resolved: each field as documented there.")]
        #[derive(Debug, Clone)]
        pub struct $resolved {
            $(
                pub $field: settings!(@ty $ty $(, $default)?),
            )*
        }

        impl $args {
            /// `(setting, default)` of each setting that has one, as `--help` shows it.
            pub fn defaults() -> Vec<(&'static str, String)> {
                vec![$($((
                    stringify!($field),
                    crate::config::value::Declared::<$ty>::text(&$default),
                ),)?)*]
            }

            /// This layer over `lower`: each setting from here unless unset or blank.
            #[allow(dead_code)]
            pub fn or(self, lower: Self) -> Self {
                Self {
                    $($field: crate::config::value::pick(self.$field, lower.$field),)*
                }
            }

            /// The values of this (merged) layer, with the declared defaults for the rest.
            pub fn resolve(self) -> $resolved {
                $resolved {
                    $(
                        $field: settings!(@get
                            crate::config::value::pick(self.$field, None), $field, $ty $(, $default)?),
                    )*
                }
            }
        }
    };
    (@ty $ty:ty, $default:expr) => { $ty };
    (@ty $ty:ty) => { Option<$ty> };
    (@get $v:expr, $field:ident, $ty:ty, $default:expr) => {
        $v.unwrap_or_else(|| crate::config::value::Declared::<$ty>::value(&$default))
    };
    (@get $v:expr, $field:ident, $ty:ty) => { $v };
}

pub(crate) use settings;
