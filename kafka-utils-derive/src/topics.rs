//! `#[derive(KafkaTopics)]`: parse the `#[topic(...)]` attributes, check them, expand.
//!
//! On a mistake the expansion still happens with harmless stand-ins (the variant name as
//! topic name, `()` as message), so the user sees the mistake and not a cascade after it.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

use crate::config::{self, Literal};
use crate::ctxt::Ctxt;
use crate::enums::{self, Common};
use crate::names;
use crate::retry;

const EXAMPLE: &str = "`#[topic(name = \"orders\", message = Order)] Orders,`";
const ATTRIBUTE_KEYS: &[&str] = &[
    "name",
    "message",
    "key",
    "partitions",
    "replication_factor",
    "config",
    "dead_letter",
    "retry",
];

/// One `#[topic(...)]` variant, as far as it could be read.
struct Topic<'a> {
    variant: &'a syn::Variant,
    name: String,
    name_span: Span,
    message: Option<syn::Type>,
    key: Option<syn::Type>,
    partitions: Option<(i64, Span)>,
    replication_factor: Option<(i64, Span)>,
    /// Kafka key, value as Kafka takes it, the key as written.
    configs: Vec<(String, String, String)>,
    /// `min.insync.replicas` and its value as written.
    min_insync: Option<(i64, TokenStream)>,
    /// `dead_letter = Variant`: a variant of the same enum.
    dead_letter: Option<syn::Ident>,
    /// `retry = ["10s", ...]`: the delays of its retry topics.
    retry: Vec<retry::Delay>,
    doc: String,
}

pub(crate) fn expand(input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    enums::derive(
        input,
        "KafkaTopics",
        EXAMPLE,
        parse_variant,
        check,
        generate,
    )
}

fn parse_variant<'a>(cx: &mut Ctxt, variant: &'a syn::Variant) -> Topic<'a> {
    let mut topic = Topic {
        variant,
        name: variant.ident.to_string(),
        name_span: variant.ident.span(),
        message: None,
        key: None,
        partitions: None,
        replication_factor: None,
        configs: Vec::new(),
        min_insync: None,
        dead_letter: None,
        retry: Vec::new(),
        doc: enums::doc_of(&variant.attrs),
    };
    let Some(attr) = enums::variant_attribute(cx, variant, "topic", EXAMPLE) else {
        return topic;
    };
    let mut seen_name = false;
    let mut seen = HashSet::new();
    let result = attr.parse_nested_meta(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        if !seen.insert(key.clone()) {
            return Err(meta.error(format!("duplicate `{key}` in #[topic(...)]")));
        }
        match key.as_str() {
            "name" => {
                let lit: syn::LitStr = meta.value()?.parse()?;
                seen_name = true;
                topic.name = lit.value();
                topic.name_span = lit.span();
                if let Some(why) = names::topic_name_error(&topic.name) {
                    cx.error_spanned_by(&lit, why);
                }
            }
            "message" => topic.message = Some(meta.value()?.parse()?),
            "key" => topic.key = Some(meta.value()?.parse()?),
            "partitions" => {
                topic.partitions = parse_count(cx, &meta, "partitions", i32::MAX.into())?;
            }
            "replication_factor" => {
                topic.replication_factor =
                    parse_count(cx, &meta, "replication_factor", i16::MAX.into())?;
            }
            "config" => meta.parse_nested_meta(|entry| parse_config(cx, &mut topic, entry))?,
            "dead_letter" => topic.dead_letter = Some(meta.value()?.parse()?),
            "retry" => topic.retry = retry::parse(cx, &meta)?,
            _ => {
                let hint = names::did_you_mean(&key, ATTRIBUTE_KEYS.iter().copied())
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_else(|| format!("; expected one of {}", backticked(ATTRIBUTE_KEYS)));
                return Err(meta.error(format!(
                    "unknown key `{}` in #[topic(...)]{hint}",
                    path_text(&meta.path)
                )));
            }
        }
        Ok(())
    });
    if let Err(error) = result {
        cx.syn_error(error);
        return topic;
    }
    if !seen_name {
        cx.error_spanned_by(
            attr,
            format!(
                "missing `name = \"...\"`: the Kafka topic name of `{}`",
                variant.ident
            ),
        );
    }
    if topic.message.is_none() {
        cx.error_spanned_by(
            attr,
            format!(
                "missing `message = Type`: the type of the messages of topic `{}`",
                topic.name
            ),
        );
    }
    topic
}

/// `partitions = 12`: an integer in 1..=max.
fn parse_count(
    cx: &mut Ctxt,
    meta: &syn::meta::ParseNestedMeta<'_>,
    key: &str,
    max: i64,
) -> syn::Result<Option<(i64, Span)>> {
    let expr: syn::Expr = meta.value()?.parse()?;
    match config::literal(&expr) {
        Ok(Literal::Int(n)) if (1..=i128::from(max)).contains(&n) => {
            Ok(Some((n as i64, expr.span())))
        }
        Ok(Literal::Int(n)) => {
            cx.error_spanned_by(&expr, format!("`{key}` must be in 1..={max}; got {n}"));
            Ok(None)
        }
        _ => {
            cx.error_spanned_by(&expr, format!("`{key}` takes an integer in 1..={max}"));
            Ok(None)
        }
    }
}

fn parse_config(
    cx: &mut Ctxt,
    topic: &mut Topic<'_>,
    entry: syn::meta::ParseNestedMeta<'_>,
) -> syn::Result<()> {
    let key = path_text(&entry.path);
    let span = entry.path.span();
    if key == "unchecked" {
        return parse_unchecked(cx, topic, entry);
    }
    if key == "num_partitions" || key == "replication_factor" {
        let field = if key == "num_partitions" {
            "partitions"
        } else {
            "replication_factor"
        };
        let max = if field == "partitions" {
            i32::MAX.into()
        } else {
            i16::MAX.into()
        };
        let value = parse_count(cx, &entry, field, max)?;
        let slot = if field == "partitions" {
            &mut topic.partitions
        } else {
            &mut topic.replication_factor
        };
        if slot.is_some() {
            cx.error_at(
                span,
                format!("`{field}` is given twice (`{key}` sets it too)"),
            );
        }
        *slot = value;
        return Ok(());
    }
    let Some(known) = config::lookup(&key) else {
        let candidates = config::KNOWN.iter().map(|k| k.key).chain([
            "num_partitions",
            "replication_factor",
            "unchecked",
        ]);
        let dotted = key.replace('.', "_");
        let hint = match names::did_you_mean(&dotted, candidates) {
            Some(k) => format!("; did you mean `{k}`?"),
            None => "; for a config this macro does not know, write \
                     `unchecked(\"some.config\" = \"value\")`"
                .to_string(),
        };
        // Skip the value so that parsing goes on to the next entry.
        if entry.input.peek(syn::Token![=]) {
            let _: syn::Expr = entry.value()?.parse()?;
        }
        cx.error_at(span, format!("unknown topic config `{key}`{hint}"));
        return Ok(());
    };
    let expr: syn::Expr = entry.value()?.parse()?;
    let value = match config::literal(&expr).and_then(|lit| config::value(known, &lit, &expr)) {
        Ok(value) => value,
        Err(error) => {
            cx.syn_error(error);
            return Ok(());
        }
    };
    if let Some((_, _, first)) = topic.configs.iter().find(|(k, _, _)| k == known.kafka) {
        cx.error_at(
            span,
            format!(
                "`{key}` sets `{}`, which `{first}` already set; keep one of them",
                known.kafka
            ),
        );
        return Ok(());
    }
    if known.kafka == "min.insync.replicas" {
        topic.min_insync = value.parse().ok().map(|n| (n, quote!(#expr)));
    }
    topic.configs.push((known.kafka.to_string(), value, key));
    Ok(())
}

/// `unchecked("follower.replication.throttled.replicas" = "*", ...)`: passed as written.
fn parse_unchecked(
    cx: &mut Ctxt,
    topic: &mut Topic<'_>,
    entry: syn::meta::ParseNestedMeta<'_>,
) -> syn::Result<()> {
    let content;
    syn::parenthesized!(content in entry.input);
    let pairs = content.parse_terminated(
        |input| {
            let key: syn::LitStr = input.parse()?;
            input.parse::<syn::Token![=]>()?;
            let value: syn::LitStr = input.parse()?;
            Ok((key, value))
        },
        syn::Token![,],
    )?;
    for (key, value) in pairs {
        let k = key.value();
        // Name the key spelled like the Kafka key (`retention_ms`), not a short alias.
        let spelled = k.replace('.', "_");
        let known =
            config::lookup(&spelled).or_else(|| config::KNOWN.iter().find(|c| c.kafka == k));
        if let Some(known) = known.filter(|c| c.kafka == k) {
            cx.error_spanned_by(
                &key,
                format!(
                    "`{k}` is a known config: write it checked, as `{} = ...`",
                    known.key
                ),
            );
        } else if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.')
        {
            cx.error_spanned_by(
                &key,
                format!("`{k}` is not a Kafka config key (lowercase words joined by `.`)"),
            );
        } else if topic.configs.iter().any(|(existing, _, _)| *existing == k) {
            cx.error_spanned_by(&key, format!("`{k}` is given twice"));
        } else {
            topic
                .configs
                .push((k.clone(), value.value(), format!("unchecked({k:?})")));
        }
    }
    Ok(())
}

// Topic names, the retry topics' too, are unique, also modulo Kafka's `.`/`_` collision
// rule. `min.insync.replicas` is at most the replication factor.
fn check(cx: &mut Ctxt, topics: &[Topic<'_>]) {
    let mut by_key: HashMap<String, Owner> = HashMap::new();
    for topic in topics {
        check_dead_letter(cx, topic, topics);
        let declared = Owner {
            name: topic.name.clone(),
            who: format!("`{}`", topic.variant.ident),
        };
        claim(cx, &mut by_key, declared, topic.name_span);
        for delay in &topic.retry {
            if let Some(why) = retry::name_error(&topic.name, &topic.variant.ident, delay) {
                cx.error_at(delay.span, why);
                continue;
            }
            let derived = Owner {
                name: retry::topic_name(&topic.name, delay),
                who: format!(
                    "`{}` (its retry topic after `{}`)",
                    topic.variant.ident, delay.text
                ),
            };
            claim(cx, &mut by_key, derived, delay.span);
        }
        if let (Some((min_insync, tokens)), Some((replication, _))) =
            (&topic.min_insync, topic.replication_factor)
            && *min_insync > replication
        {
            cx.error_spanned_by(
                tokens,
                format!(
                    "`min_insync_replicas = {min_insync}` is more than \
                     `replication_factor = {replication}` of topic `{}`: no write could \
                     ever succeed with acks=all",
                    topic.name
                ),
            );
        }
    }
}

/// A topic name, and who has it (a variant, or a variant's retry topic).
struct Owner {
    name: String,
    who: String,
}

/// Takes `owner`'s name, written at `span`; an error there if it is taken.
fn claim(cx: &mut Ctxt, by_key: &mut HashMap<String, Owner>, owner: Owner, span: Span) {
    let key = names::topic_collision_key(&owner.name);
    let Some(first) = by_key.get(&key) else {
        by_key.insert(key, owner);
        return;
    };
    let message = if first.name == owner.name {
        format!(
            "topic `{}` is declared twice: by {} and by {}",
            owner.name, first.who, owner.who
        )
    } else {
        format!(
            "topic `{}` collides with `{}` of {}: Kafka treats `.` and `_` alike in \
             topic names and refuses the second",
            owner.name, first.name, first.who
        )
    };
    cx.error_at(span, message);
}

/// `dead_letter = X`: `X` is another variant of this enum.
fn check_dead_letter(cx: &mut Ctxt, topic: &Topic<'_>, topics: &[Topic<'_>]) {
    let Some(target) = &topic.dead_letter else {
        return;
    };
    if *target == topic.variant.ident {
        cx.error_spanned_by(
            target,
            format!(
                "topic `{}` cannot be its own dead letter: name another variant, e.g. `{}Dlq`",
                topic.name, topic.variant.ident
            ),
        );
        return;
    }
    if topics.iter().any(|t| t.variant.ident == *target) {
        return;
    }
    let variants: Vec<String> = topics.iter().map(|t| t.variant.ident.to_string()).collect();
    let hint = names::did_you_mean(&target.to_string(), variants.iter().map(String::as_str))
        .map(|v| format!("; did you mean `{v}`?"))
        .unwrap_or_else(|| {
            format!(
                "; declare it in this enum (e.g. `#[topic(name = \"{}.dlq\", message = ...)] {target},`)",
                topic.name
            )
        });
    cx.error_spanned_by(
        target,
        format!(
            "dead letter `{target}` of topic `{}` is not a variant of this enum{hint}",
            topic.name
        ),
    );
}

fn generate(shape: &enums::EnumShape<'_>, topics: &[Topic<'_>]) -> TokenStream {
    let ident = shape.ident;
    let module = enums::marker_module(ident);
    let mut specs = Vec::new();
    let mut impls = Vec::new();
    for (index, topic) in topics.iter().enumerate() {
        let name = &topic.name;
        let variant = &topic.variant.ident;
        let partitions = option_tokens(topic.partitions.map(|(n, _)| n as i32));
        let replication = option_tokens(topic.replication_factor.map(|(n, _)| n as i16));
        let mut configs: Vec<(&String, &String)> =
            topic.configs.iter().map(|(k, v, _)| (k, v)).collect();
        configs.sort();
        let config_keys = configs.iter().map(|(k, _)| k);
        let config_values = configs.iter().map(|(_, v)| v);
        let unit: syn::Type = syn::parse_quote!(());
        let message = topic.message.as_ref().unwrap_or(&unit);
        let key = topic.key.as_ref().unwrap_or(&unit);
        let message_text = type_text(message);
        let key_text = option_tokens(topic.key.as_ref().map(type_text));
        let doc = &topic.doc;
        let dead_letter_name = option_tokens(topic.dead_letter.as_ref().and_then(|d| {
            topics
                .iter()
                .find(|t| t.variant.ident == *d)
                .map(|t| t.name.clone())
        }));
        let dead_letter = match &topic.dead_letter {
            Some(d) => quote!(#module::#d),
            None => quote!(::kafka_utils::access::NoDeadLetter),
        };
        let message_schema =
            quote!(::kafka_utils::schema::SchemaFn(#module::#variant::__message_schema));
        let key_schema = quote!(::kafka_utils::schema::SchemaFn(#module::#variant::__key_schema));
        let min_insync = topic
            .configs
            .iter()
            .find(|(k, _, _)| k == "min.insync.replicas")
            .map(|(_, v, _)| v.as_str());
        let retry_specs = retry::specs(
            &retry::Origin {
                name,
                partitions: &partitions,
                replication: &replication,
                min_insync,
                message_type: &message_text,
                key_type: &key_text,
                dead_letter: &dead_letter_name,
                message_schema: &message_schema,
                key_schema: &key_schema,
            },
            &topic.retry,
        );
        specs.push(quote! {
            ::kafka_utils::topology::TopicSpec {
                name: #name,
                partitions: #partitions,
                replication_factor: #replication,
                configs: &[#((#config_keys, #config_values)),*],
                message_type: #message_text,
                key_type: #key_text,
                doc: #doc,
                dead_letter: #dead_letter_name,
                message_schema: #message_schema,
                key_schema: #key_schema,
                retry_topics: &[#(#retry_specs),*],
                retry_of: ::core::option::Option::None,
            }
        });
        impls.push(quote! {
            impl #module::#variant {
                #[doc(hidden)]
                #[allow(clippy::needless_borrow)] // the borrow picks the impl
                pub fn __message_schema(
                    generator: &mut ::kafka_utils::__private::schemars::SchemaGenerator,
                ) -> ::core::option::Option<::kafka_utils::__private::schemars::Schema> {
                    #[allow(unused_imports)]
                    use ::kafka_utils::__private::{ViaJsonSchema as _, ViaNothing as _};
                    (&::kafka_utils::__private::Probe::<#message>::new()).schema_of(generator)
                }
                #[doc(hidden)]
                #[allow(clippy::needless_borrow)] // the borrow picks the impl
                pub fn __key_schema(
                    generator: &mut ::kafka_utils::__private::schemars::SchemaGenerator,
                ) -> ::core::option::Option<::kafka_utils::__private::schemars::Schema> {
                    #[allow(unused_imports)]
                    use ::kafka_utils::__private::{ViaJsonSchema as _, ViaNothing as _};
                    (&::kafka_utils::__private::Probe::<#key>::new()).schema_of(generator)
                }
            }
            impl ::kafka_utils::access::Topic for #module::#variant {
                type Topics = #ident;
                type Message = #message;
                type Key = #key;
                type DeadLetter = #dead_letter;
                const NAME: &'static str = #name;
                const VARIANT: #ident = #ident::#variant;
                const SPEC: &'static ::kafka_utils::topology::TopicSpec =
                    &<#ident as ::kafka_utils::access::TopicEnum>::SPECS[#index];
            }
        });
    }
    let common = enums::expand_common(&Common {
        shape,
        kind: "topic",
        enum_trait: quote!(TopicEnum),
        spec_type: quote!(TopicSpec),
        names: topics.iter().map(|t| t.name.clone()).collect(),
        specs,
    });
    quote! {
        #common
        #(#impls)*
    }
}

fn option_tokens<T: quote::ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// `Vec < u8 >` as `Vec<u8>`: the type as a reader writes it.
fn type_text(ty: &syn::Type) -> String {
    let raw = quote!(#ty).to_string();
    raw.replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" ,", ",")
        .replace("& ", "&")
}

fn path_text(path: &syn::Path) -> String {
    quote!(#path).to_string().replace(' ', "")
}

fn backticked(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
