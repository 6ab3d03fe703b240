//! What `#[derive(KafkaTopics)]` and `#[derive(KafkaUsers)]` share: reading the enum's
//! shape and variant docs, and generating the enum-as-values API and the marker types.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ctxt::Ctxt;
use crate::names::snake_case;

/// The enum a derive was put on, checked to be a non-generic enum of unit variants.
pub(crate) struct EnumShape<'a> {
    pub(crate) ident: &'a syn::Ident,
    pub(crate) vis: &'a syn::Visibility,
    pub(crate) variants: Vec<&'a syn::Variant>,
}

/// Reads the enum of `input`, reporting anything that is not a plain enum of unit variants.
/// `derive` names the derive (`KafkaTopics`), `what` the variants (`topic`).
pub(crate) fn shape<'a>(
    cx: &mut Ctxt,
    input: &'a syn::DeriveInput,
    derive: &str,
    example: &str,
) -> Option<EnumShape<'a>> {
    let data = match &input.data {
        syn::Data::Enum(data) => data,
        syn::Data::Struct(s) => {
            cx.error_spanned_by(
                s.struct_token,
                format!("#[derive({derive})] works on an enum, one variant each: {example}"),
            );
            return None;
        }
        syn::Data::Union(u) => {
            cx.error_spanned_by(
                u.union_token,
                format!("#[derive({derive})] works on an enum, one variant each: {example}"),
            );
            return None;
        }
    };
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            format!("#[derive({derive})] does not take generic parameters"),
        );
    }
    if data.variants.is_empty() {
        cx.error_spanned_by(
            &input.ident,
            format!("#[derive({derive})] needs at least one variant: {example}"),
        );
    }
    let mut variants = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, syn::Fields::Unit) {
            cx.error_spanned_by(
                &variant.fields,
                format!(
                    "variant `{}` has fields; #[derive({derive})] takes unit variants only",
                    variant.ident
                ),
            );
        }
        if let Some((_, discriminant)) = &variant.discriminant {
            cx.error_spanned_by(
                discriminant,
                format!("#[derive({derive})] variants take no discriminant"),
            );
        }
        variants.push(variant);
    }
    Some(EnumShape {
        ident: &input.ident,
        vis: &input.vis,
        variants,
    })
}

/// The variant's one `#[name(...)]` attribute; a missing one or a second one is an error.
pub(crate) fn variant_attribute<'a>(
    cx: &mut Ctxt,
    variant: &'a syn::Variant,
    name: &str,
    example: &str,
) -> Option<&'a syn::Attribute> {
    let mut attrs = variant.attrs.iter().filter(|a| a.path().is_ident(name));
    let Some(first) = attrs.next() else {
        cx.error_spanned_by(
            &variant.ident,
            format!(
                "variant `{}` needs a #[{name}(...)] attribute, e.g. {example}",
                variant.ident
            ),
        );
        return None;
    };
    for extra in attrs {
        cx.error_spanned_by(
            extra,
            format!("one #[{name}(...)] per variant; merge them into one"),
        );
    }
    Some(first)
}

/// The pipeline both derives share: check the enum's shape (a wrong shape gets only its
/// errors), parse each variant, check them together, generate, and emit the errors with it.
pub(crate) fn derive<'a, V>(
    input: &'a syn::DeriveInput,
    derive: &str,
    example: &str,
    parse: impl Fn(&mut Ctxt, &'a syn::Variant) -> V,
    check: impl Fn(&mut Ctxt, &[V]),
    generate: impl Fn(&EnumShape<'a>, &[V]) -> TokenStream,
) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let shape = shape(&mut cx, input, derive, example);
    std::mem::take(&mut cx).check()?;
    let Some(shape) = shape else {
        return Ok(TokenStream::new());
    };
    let variants: Vec<V> = shape.variants.iter().map(|v| parse(&mut cx, v)).collect();
    check(&mut cx, &variants);
    let tokens = generate(&shape, &variants);
    finish(cx, tokens)
}

/// The generated code, preceded by every error recorded: the user sees the mistakes, and
/// not a cascade of errors about code that is missing.
fn finish(cx: Ctxt, tokens: TokenStream) -> syn::Result<TokenStream> {
    match cx.check() {
        Ok(()) => Ok(tokens),
        Err(errors) => {
            let errors = errors.to_compile_error();
            Ok(quote!(#errors #tokens))
        }
    }
}

/// The variant's `///` doc comment, lines joined and trimmed.
pub(crate) fn doc_of(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(syn::MetaNameValue {
            value:
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }),
            ..
        }) = &attr.meta
        {
            lines.push(s.value().trim().to_string());
        }
    }
    lines.join("\n").trim().to_string()
}

/// The module that holds the marker types of enum `ident`.
pub(crate) fn marker_module(ident: &syn::Ident) -> syn::Ident {
    syn::Ident::new(&snake_case(&ident.to_string()), ident.span())
}

/// The inputs of [`expand_common`].
pub(crate) struct Common<'a> {
    pub(crate) shape: &'a EnumShape<'a>,
    /// `topic` or `user`.
    pub(crate) kind: &'static str,
    /// `TopicEnum` or `UserEnum`.
    pub(crate) enum_trait: TokenStream,
    /// `TopicSpec` or `UserSpec`.
    pub(crate) spec_type: TokenStream,
    /// The Kafka name of each variant.
    pub(crate) names: Vec<String>,
    /// The spec of each variant.
    pub(crate) specs: Vec<TokenStream>,
}

/// The enum-as-values API (`ALL`, `name()`, `spec()`, `FromStr`, `Display`, serde by name),
/// the enum trait, and the module of marker types with `From<marker>` for the enum.
pub(crate) fn expand_common(c: &Common<'_>) -> TokenStream {
    let ident = c.shape.ident;
    let vis = c.shape.vis;
    let kind = c.kind;
    let module = marker_module(ident);
    let enum_trait = &c.enum_trait;
    let spec_type = &c.spec_type;
    let variants: Vec<&syn::Ident> = c.shape.variants.iter().map(|v| &v.ident).collect();
    let names = &c.names;
    let specs = &c.specs;
    let indexes = 0..variants.len();
    let marker_vis = inner_visibility(vis);
    let module_doc = format!(
        "The {kind}s of [`{ident}`] as types, one unit struct per variant \
         (made by `#[derive(Kafka{}s)]`).",
        if kind == "topic" { "Topic" } else { "User" }
    );
    let marker_docs = variants.iter().zip(names).map(|(variant, name)| {
        format!(
            "The {kind} `{name}` ([`{ident}::{variant}`](super::{ident}::{variant})) as a type."
        )
    });
    let all_names_doc = format!("Every {kind}, in declaration order.");
    let visitor_expecting = format!("the name of a declared {kind}");
    quote! {
        #[doc = #module_doc]
        #vis mod #module {
            #(
                #[doc = #marker_docs]
                #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
                #marker_vis struct #variants;
            )*
        }

        impl #ident {
            #[doc = #all_names_doc]
            pub const ALL: &'static [#ident] = &[#(#ident::#variants),*];

            /// The Kafka name.
            pub const fn name(&self) -> &'static str {
                match self {
                    #(#ident::#variants => #names,)*
                }
            }

            /// The declared spec.
            pub fn spec(&self) -> &'static ::kafka_utils::topology::#spec_type {
                <#ident as ::kafka_utils::access::#enum_trait>::spec(self)
            }
        }

        impl ::kafka_utils::access::#enum_trait for #ident {
            const ALL: &'static [#ident] = &[#(#ident::#variants),*];
            const SPECS: &'static [::kafka_utils::topology::#spec_type] = &[#(#specs),*];

            fn spec(&self) -> &'static ::kafka_utils::topology::#spec_type {
                match self {
                    #(#ident::#variants => &<#ident as ::kafka_utils::access::#enum_trait>::SPECS[#indexes],)*
                }
            }
        }

        #(
            impl ::core::convert::From<#module::#variants> for #ident {
                fn from(_: #module::#variants) -> #ident {
                    #ident::#variants
                }
            }
        )*

        impl ::core::str::FromStr for #ident {
            type Err = ::kafka_utils::__private::UnknownName;

            fn from_str(name: &str) -> ::core::result::Result<#ident, Self::Err> {
                match name {
                    #(#names => ::core::result::Result::Ok(#ident::#variants),)*
                    _ => ::core::result::Result::Err(::kafka_utils::__private::UnknownName {
                        kind: #kind,
                        name: ::std::string::ToString::to_string(name),
                        expected: &[#(#names),*],
                    }),
                }
            }
        }

        impl ::core::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::kafka_utils::__private::serde::Serialize for #ident {
            fn serialize<S>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error>
            where
                S: ::kafka_utils::__private::serde::Serializer,
            {
                serializer.serialize_str(self.name())
            }
        }

        impl<'de> ::kafka_utils::__private::serde::Deserialize<'de> for #ident {
            fn deserialize<D>(deserializer: D) -> ::core::result::Result<#ident, D::Error>
            where
                D: ::kafka_utils::__private::serde::Deserializer<'de>,
            {
                struct Visitor;
                impl<'de> ::kafka_utils::__private::serde::de::Visitor<'de> for Visitor {
                    type Value = #ident;
                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str(#visitor_expecting)
                    }
                    fn visit_str<E>(self, name: &str) -> ::core::result::Result<#ident, E>
                    where
                        E: ::kafka_utils::__private::serde::de::Error,
                    {
                        name.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    }
}

/// The visibility, seen from inside the marker module, that equals `vis` outside it.
fn inner_visibility(vis: &syn::Visibility) -> TokenStream {
    match vis {
        syn::Visibility::Public(_) => quote!(pub),
        syn::Visibility::Inherited => quote!(pub(super)),
        syn::Visibility::Restricted(r) => {
            let path = &r.path;
            let first = path.segments.first().map(|s| s.ident.to_string());
            match first.as_deref() {
                Some("crate") => quote!(pub(in #path)),
                Some("self") if path.segments.len() == 1 => quote!(pub(super)),
                _ => quote!(pub(in super::#path)),
            }
        }
    }
}
