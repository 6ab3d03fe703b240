//! `#[derive(KafkaUsers)]`: parse the `#[user(...)]` attributes, check them, expand.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::ctxt::Ctxt;
use crate::enums::{self, Common};
use crate::names;

const EXAMPLE: &str = "`#[user(name = \"my-service\", groups = [\"my-service-group\"])] Service,`";
const ATTRIBUTE_KEYS: &[&str] = &["name", "groups"];

/// One `#[user(...)]` variant, as far as it could be read.
struct User<'a> {
    variant: &'a syn::Variant,
    name: String,
    name_span: Span,
    groups: Vec<String>,
    doc: String,
}

pub(crate) fn expand(input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    enums::derive(input, "KafkaUsers", EXAMPLE, parse_variant, check, generate)
}

fn parse_variant<'a>(cx: &mut Ctxt, variant: &'a syn::Variant) -> User<'a> {
    let mut user = User {
        variant,
        name: variant.ident.to_string(),
        name_span: variant.ident.span(),
        groups: Vec::new(),
        doc: enums::doc_of(&variant.attrs),
    };
    let Some(attr) = enums::variant_attribute(cx, variant, "user", EXAMPLE) else {
        return user;
    };
    let mut seen = HashSet::new();
    let mut seen_name = false;
    let result = attr.parse_nested_meta(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        if !seen.insert(key.clone()) {
            return Err(meta.error(format!("duplicate `{key}` in #[user(...)]")));
        }
        match key.as_str() {
            "name" => {
                let lit: syn::LitStr = meta.value()?.parse()?;
                seen_name = true;
                user.name = lit.value();
                user.name_span = lit.span();
                if let Some(why) = names::principal_error("user name", &user.name) {
                    cx.error_spanned_by(&lit, why);
                }
            }
            "groups" => {
                let value = meta.value()?;
                let content;
                syn::bracketed!(content in value);
                let groups = content
                    .parse_terminated(|input| input.parse::<syn::LitStr>(), syn::Token![,])?;
                let mut unique = HashSet::new();
                for group in groups {
                    let name = group.value();
                    if let Some(why) = names::principal_error("consumer group", &name) {
                        cx.error_spanned_by(&group, why);
                    } else if !unique.insert(name.clone()) {
                        cx.error_spanned_by(&group, format!("group `{name}` is listed twice"));
                    } else {
                        user.groups.push(name);
                    }
                }
            }
            _ => {
                let hint = names::did_you_mean(&key, ATTRIBUTE_KEYS.iter().copied())
                    .map(|k| format!("did you mean `{k}`?"))
                    .unwrap_or_else(|| "expected `name` or `groups`".to_string());
                return Err(meta.error(format!("unknown key `{key}` in #[user(...)]; {hint}")));
            }
        }
        Ok(())
    });
    if let Err(error) = result {
        cx.syn_error(error);
    } else if !seen_name {
        cx.error_spanned_by(
            attr,
            format!(
                "missing `name = \"...\"`: the principal name of `{}`",
                variant.ident
            ),
        );
    }
    user
}

// User names are unique.
fn check(cx: &mut Ctxt, users: &[User<'_>]) {
    let mut seen: HashMap<&str, &User<'_>> = HashMap::new();
    for user in users {
        if let Some(first) = seen.get(user.name.as_str()) {
            cx.error_at(
                user.name_span,
                format!(
                    "user `{}` is declared twice: by `{}` and by `{}`",
                    user.name, first.variant.ident, user.variant.ident
                ),
            );
        } else {
            seen.insert(&user.name, user);
        }
    }
}

fn generate(shape: &enums::EnumShape<'_>, users: &[User<'_>]) -> TokenStream {
    let ident = shape.ident;
    let module = enums::marker_module(ident);
    let mut specs = Vec::new();
    let mut impls = Vec::new();
    for (index, user) in users.iter().enumerate() {
        let name = &user.name;
        let groups = &user.groups;
        let doc = &user.doc;
        let variant = &user.variant.ident;
        specs.push(quote! {
            ::kafka_utils::topology::UserSpec { name: #name, groups: &[#(#groups),*], doc: #doc }
        });
        impls.push(quote! {
            impl ::kafka_utils::access::User for #module::#variant {
                type Users = #ident;
                const NAME: &'static str = #name;
                const VARIANT: #ident = #ident::#variant;
                const SPEC: &'static ::kafka_utils::topology::UserSpec =
                    &<#ident as ::kafka_utils::access::UserEnum>::SPECS[#index];
            }
        });
    }
    let common = enums::expand_common(&Common {
        shape,
        kind: "user",
        enum_trait: quote!(UserEnum),
        spec_type: quote!(UserSpec),
        names: users.iter().map(|u| u.name.clone()).collect(),
        specs,
    });
    quote! {
        #common
        #(#impls)*
    }
}
