//! Who may do what: permissions per operation, the shipped roles, the names of users and
//! tokens, and which permission an event needs.
//!
//! Everything here is data and pure functions; checking a password, minting a secret and
//! looking a session up are the server's and the store's business. Randomness is a parameter
//! ([`Credential::new`] takes the random bytes), so this module stays free of I/O.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::FieldError;
use crate::event::{Action, EventKind, EventRequest, HoldChange, HoldKind};

macro_rules! permissions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal),+ $(,)?) => {
        /// One operation a role may be allowed to perform.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum Permission {
            $($(#[$doc])* $variant),+
        }

        impl Permission {
            /// Every permission, in a fixed order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];

            /// The stable name used in the API and the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name),+
                }
            }

            pub fn parse(s: &str) -> Result<Permission, FieldError> {
                match s {
                    $($name => Ok(Permission::$variant),)+
                    _ => Err(FieldError::new(
                        "unknown_permission",
                        format!("`{s}` is not a permission"),
                    )),
                }
            }
        }
    };
}

permissions! {
    /// Record receipts (purchase, distributor, inter-site).
    Receive = "receive",
    /// Commission serials and lots; batch transformations.
    Commission = "commission",
    /// Bind and unbind components (assembly, packing, part swaps).
    Assemble = "assemble",
    /// Record inspection results.
    Inspect = "inspect",
    /// Put away, pick, move and transfer.
    Move = "move",
    /// Ship and sell.
    Ship = "ship",
    /// Receive returns.
    Return = "return",
    /// Record repairs.
    Repair = "repair",
    /// Scrap and decommission.
    Scrap = "scrap",
    /// Correct an earlier event (with a reason).
    Correct = "correct",
    /// Place and release QC and admin holds.
    Hold = "hold",
    /// Place and release recall holds; run recalls.
    Recall = "recall",
    /// Change master data and rules.
    Configure = "configure",
    /// Create users and tokens, reset passwords, lock accounts.
    ManageUsers = "manage_users",
    /// Read units, lots, events and master data.
    Read = "read",
    /// Read the ledger's integrity report and (later) the audit trail.
    ReadAudit = "read_audit",
    /// See customers' personal data; without it they read `***` (see `mask`).
    ReadCustomerData = "read_customer_data",
    /// See prices and other commercial fields; without it they read `***` (see `mask`).
    ReadPrices = "read_prices",
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The permissions that record events: an actor holding none of them cannot capture at all.
pub const CAPTURE_PERMISSIONS: &[Permission] = &[
    Permission::Receive,
    Permission::Commission,
    Permission::Assemble,
    Permission::Inspect,
    Permission::Move,
    Permission::Ship,
    Permission::Return,
    Permission::Repair,
    Permission::Scrap,
    Permission::Correct,
    Permission::Hold,
    Permission::Recall,
];

/// A set of permissions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(u32);

impl Permissions {
    pub const NONE: Permissions = Permissions(0);

    fn bit(p: Permission) -> u32 {
        1 << (p as u32)
    }

    pub fn of(ps: &[Permission]) -> Permissions {
        ps.iter().fold(Permissions::NONE, |s, p| s.with(*p))
    }

    pub fn all() -> Permissions {
        Permissions::of(Permission::ALL)
    }

    #[must_use]
    pub fn with(self, p: Permission) -> Permissions {
        Permissions(self.0 | Self::bit(p))
    }

    #[must_use]
    pub fn union(self, other: Permissions) -> Permissions {
        Permissions(self.0 | other.0)
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & Self::bit(p) != 0
    }

    /// Holds every permission of `other`.
    pub fn covers(self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions of `other` this set lacks.
    pub fn missing(self, other: Permissions) -> Vec<Permission> {
        other.iter().filter(|p| !self.contains(*p)).collect()
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    /// Holds at least one permission that records events.
    pub fn may_capture(self) -> bool {
        CAPTURE_PERMISSIONS.iter().any(|p| self.contains(*p))
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Permissions {
    /// The stored form: names separated by single spaces.
    pub fn to_stored(self) -> String {
        self.iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads the stored form; a name this version does not know grants nothing.
    pub fn from_stored(s: &str) -> Permissions {
        s.split_whitespace()
            .filter_map(|n| Permission::parse(n).ok())
            .fold(Permissions::NONE, Permissions::with)
    }
}

impl Serialize for Permissions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A shipped role: the jobs of the product brief. The plant adds its own beside them
/// ([`RoleDefinition`], named by a [`RoleName`]); a user or token holds any mix of both
/// ([`Roles`]).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// 仓管员: receipts, put-away, moves, shipments, returned goods.
    Warehouse,
    /// 产线操作员: commissioning, assembly, moves within production.
    Production,
    /// 质检员: inspection results, QC holds and releases.
    Qc,
    /// Sales and channel management: reads, with customers and prices.
    Sales,
    /// 售后工程师: returns, repairs, part swaps, scrapping replaced parts.
    Service,
    /// Quality and recall management: inspection, holds, recalls, corrections.
    Quality,
    /// Auditors and regulators: read-only, everything, including the audit data.
    Auditor,
    /// 经销商 (external): reads, scoped to what was shipped to its party and the parties
    /// under it (the server's partner scoping; everything else is "not found").
    Distributor,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Admin,
        Role::Warehouse,
        Role::Production,
        Role::Qc,
        Role::Sales,
        Role::Service,
        Role::Quality,
        Role::Auditor,
        Role::Distributor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Warehouse => "warehouse",
            Role::Production => "production",
            Role::Qc => "qc",
            Role::Sales => "sales",
            Role::Service => "service",
            Role::Quality => "quality",
            Role::Auditor => "auditor",
            Role::Distributor => "distributor",
        }
    }

    pub fn parse(s: &str) -> Result<Role, FieldError> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "unknown_role",
                    format!(
                        "`{s}` is not a role; the shipped roles are {}",
                        Role::ALL
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }

    /// What the role may do.
    pub fn permissions(self) -> Permissions {
        use Permission::*;
        match self {
            Role::Admin => Permissions::all(),
            Role::Warehouse => Permissions::of(&[Read, Receive, Move, Ship, Return]),
            Role::Production => Permissions::of(&[Read, Commission, Assemble, Move]),
            Role::Qc => Permissions::of(&[Read, Inspect, Hold]),
            Role::Sales => Permissions::of(&[Read, ReadCustomerData, ReadPrices]),
            Role::Service => {
                Permissions::of(&[Read, Return, Repair, Assemble, Scrap, ReadCustomerData])
            }
            Role::Quality => Permissions::of(&[
                Read,
                Inspect,
                Hold,
                Recall,
                Correct,
                Scrap,
                ReadCustomerData,
            ]),
            Role::Auditor => Permissions::of(&[Read, ReadAudit, ReadCustomerData, ReadPrices]),
            Role::Distributor => Permissions::of(&[Read]),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest custom role name.
pub const MAX_ROLE_NAME_LEN: usize = 32;

/// The name of a custom role (`line-inspector`, `qa_lead`): a lowercase slug — a letter, then
/// letters, digits, `-` and `_`, at most [`MAX_ROLE_NAME_LEN`] characters — that is not a
/// shipped role's name. No spaces, so it stores in a user's space-separated roles.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct RoleName(String);

impl RoleName {
    pub fn parse(s: &str) -> Result<RoleName, FieldError> {
        if s.is_empty() {
            return Err(FieldError::new("empty", "a role's name must not be empty"));
        }
        if s.chars().count() > MAX_ROLE_NAME_LEN {
            return Err(FieldError::new(
                "too_long",
                format!("a role's name has at most {MAX_ROLE_NAME_LEN} characters"),
            ));
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(FieldError::new(
                "invalid_character",
                format!(
                    "role name `{}` must start with a lowercase letter",
                    s.escape_debug()
                ),
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_')))
        {
            return Err(FieldError::new(
                "invalid_character",
                format!(
                    "role name `{}` contains `{}`; use lowercase letters, digits, `-` and `_`",
                    s.escape_debug(),
                    c.escape_debug()
                ),
            ));
        }
        if Role::parse(s).is_ok() {
            return Err(FieldError::new(
                "shipped_role",
                format!("`{s}` is a shipped role; a custom role needs a name of its own"),
            ));
        }
        Ok(RoleName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoleName {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        RoleName::parse(&s)
    }
}

impl From<RoleName> for String {
    fn from(v: RoleName) -> String {
        v.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest label and description of a custom role, in characters.
pub const MAX_ROLE_LABEL_CHARS: usize = 80;
pub const MAX_ROLE_DESCRIPTION_CHARS: usize = 500;

/// A role the plant defines: its name, what people read for it, and what it may do.
///
/// A custom role grants its permissions and nothing else. It never makes an account a partner
/// (partner scoping comes only with the shipped `distributor` role, which stands alone) and it
/// does not loosen a site binding (that belongs to the user or token, not to a role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    pub name: RoleName,
    /// What the pages show for it (`产线检验员`).
    pub label: String,
    pub description: Option<String>,
    /// Never empty.
    pub permissions: Permissions,
}

impl RoleDefinition {
    /// A definition from what an administrator sent; every problem is named by its field
    /// (`name`, `label`, `description`, `permissions`, `permissions[2]`).
    pub fn parse<S: AsRef<str>>(
        name: &str,
        label: &str,
        description: Option<&str>,
        permissions: &[S],
    ) -> Result<RoleDefinition, Vec<FieldError>> {
        let mut problems = Vec::new();
        let name = RoleName::parse(name)
            .map_err(|e| problems.push(e.at("name")))
            .ok();
        let label = label.trim();
        if label.is_empty() {
            problems.push(FieldError::new("empty", "a role needs a label").at("label"));
        } else if label.chars().count() > MAX_ROLE_LABEL_CHARS {
            problems.push(
                FieldError::new(
                    "too_long",
                    format!("a role's label has at most {MAX_ROLE_LABEL_CHARS} characters"),
                )
                .at("label"),
            );
        }
        let description = description.map(str::trim).filter(|d| !d.is_empty());
        if description.is_some_and(|d| d.chars().count() > MAX_ROLE_DESCRIPTION_CHARS) {
            problems.push(
                FieldError::new(
                    "too_long",
                    format!(
                        "a role's description has at most {MAX_ROLE_DESCRIPTION_CHARS} characters"
                    ),
                )
                .at("description"),
            );
        }
        let mut set = Permissions::NONE;
        for (i, p) in permissions.iter().enumerate() {
            match Permission::parse(p.as_ref().trim()) {
                Ok(p) => set = set.with(p),
                Err(e) => problems.push(e.at(format!("permissions[{i}]"))),
            }
        }
        if permissions.is_empty() {
            problems.push(
                FieldError::new("no_permissions", "a role grants at least one permission")
                    .at("permissions"),
            );
        }
        match name {
            Some(name) if problems.is_empty() => Ok(RoleDefinition {
                name,
                label: label.to_owned(),
                description: description.map(str::to_owned),
                permissions: set,
            }),
            _ => Err(problems),
        }
    }
}

/// One role a user or token holds: shipped, or defined by the plant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoleRef {
    Shipped(Role),
    Custom(RoleName),
}

impl RoleRef {
    /// A shipped role's name is that role; any other slug names a custom role (which may not
    /// be defined: the store checks that when the role is given to someone).
    pub fn parse(s: &str) -> Result<RoleRef, FieldError> {
        if let Ok(r) = Role::parse(s) {
            return Ok(RoleRef::Shipped(r));
        }
        RoleName::parse(s).map(RoleRef::Custom).map_err(|e| {
            FieldError::new(
                "unknown_role",
                format!("`{}` is not a role: {}", s.escape_debug(), e.message),
            )
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            RoleRef::Shipped(r) => r.as_str(),
            RoleRef::Custom(n) => n.as_str(),
        }
    }
}

/// The roles of one user or token: at least one, no repeats — the shipped roles (`admin`,
/// `warehouse`, `production`, `qc`, `sales`, `service`, `quality`, `auditor`, `distributor`)
/// first in that order, then custom roles (`/api/v1/roles`) by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Roles {
    shipped: Vec<Role>,
    custom: Vec<RoleName>,
}

impl Roles {
    pub fn one(r: Role) -> Roles {
        Roles {
            shipped: vec![r],
            custom: Vec::new(),
        }
    }

    fn of(refs: impl IntoIterator<Item = RoleRef>) -> Roles {
        let mut roles = Roles {
            shipped: Vec::new(),
            custom: Vec::new(),
        };
        for r in refs {
            match r {
                RoleRef::Shipped(r) => roles.shipped.push(r),
                RoleRef::Custom(n) => roles.custom.push(n),
            }
        }
        roles.shipped.sort();
        roles.shipped.dedup();
        roles.custom.sort();
        roles.custom.dedup();
        roles
    }

    /// Shipped role names and custom role names alike; whether a custom role is defined is
    /// the store's to check when the roles are given to someone.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Roles, FieldError> {
        if names.is_empty() {
            return Err(FieldError::new("empty", "give at least one role"));
        }
        let refs = names
            .iter()
            .map(|n| RoleRef::parse(n.as_ref().trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Roles::of(refs))
    }

    /// Reads the stored form (names separated by spaces). A name that is no role at all —
    /// written by a newer Threadline — is dropped; a custom role that is no longer defined
    /// grants nothing ([`Roles::permissions`]). Neither fails the sign-in.
    pub fn from_stored(s: &str) -> Roles {
        Roles::of(s.split_whitespace().filter_map(|n| RoleRef::parse(n).ok()))
    }

    /// The stored form: names separated by single spaces.
    pub fn to_stored(&self) -> String {
        self.names().collect::<Vec<_>>().join(" ")
    }

    /// Every role's name, shipped first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.shipped
            .iter()
            .map(|r| r.as_str())
            .chain(self.custom.iter().map(RoleName::as_str))
    }

    /// The shipped roles held.
    pub fn shipped(&self) -> &[Role] {
        &self.shipped
    }

    /// The custom roles held, by name.
    pub fn custom(&self) -> &[RoleName] {
        &self.custom
    }

    pub fn contains(&self, r: Role) -> bool {
        self.shipped.contains(&r)
    }

    /// Holds `r` and nothing else.
    pub fn is_only(&self, r: Role) -> bool {
        self.shipped == [r] && self.custom.is_empty()
    }

    /// What the shipped roles allow.
    pub fn shipped_permissions(&self) -> Permissions {
        self.shipped
            .iter()
            .fold(Permissions::NONE, |s, r| s.union(r.permissions()))
    }

    /// What the roles allow, given the custom roles defined now; a custom role not among
    /// them grants nothing.
    pub fn permissions(&self, defined: &[RoleDefinition]) -> Permissions {
        self.custom
            .iter()
            .filter_map(|n| defined.iter().find(|d| d.name == *n))
            .fold(self.shipped_permissions(), |s, d| s.union(d.permissions))
    }
}

impl TryFrom<Vec<String>> for Roles {
    type Error = FieldError;
    fn try_from(v: Vec<String>) -> Result<Self, FieldError> {
        Roles::parse(&v)
    }
}

impl From<Roles> for Vec<String> {
    fn from(r: Roles) -> Vec<String> {
        r.names().map(str::to_owned).collect()
    }
}

const MAX_NAME_LEN: usize = 64;

fn check_name(kind: &str, s: &str) -> Result<(), FieldError> {
    if s.is_empty() {
        return Err(FieldError::new(
            "empty",
            format!("{kind} must not be empty"),
        ));
    }
    if s.len() > MAX_NAME_LEN {
        return Err(FieldError::new(
            "too_long",
            format!("{kind} is longer than {MAX_NAME_LEN} characters"),
        ));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(FieldError::new(
            "invalid_character",
            format!("{kind} `{s}` must start with a letter or digit"),
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')))
    {
        return Err(FieldError::new(
            "invalid_character",
            format!(
                "{kind} `{}` contains `{}`; use letters, digits, `-`, `_`, `.` and `@`",
                s.escape_debug(),
                c.escape_debug()
            ),
        ));
    }
    Ok(())
}

macro_rules! name_newtype {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                check_name($kind, s)?;
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_newtype!(
    /// A user's sign-in name. No `:`, so it can never be mistaken for `token:<name>`.
    UserName,
    "user name"
);
name_newtype!(
    /// An API token's name (`erp`, `line-1-plc`). Unique forever, revoked tokens included,
    /// so `token:<name>` in the ledger always names one token.
    TokenName,
    "token name"
);

impl TokenName {
    /// How events and master changes made with this token name their actor.
    pub fn actor(&self) -> String {
        format!("token:{}", self.0)
    }
}

/// Shortest and longest password accepted. The upper bound keeps a hash from becoming a
/// denial of service.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A password as typed: long enough, not absurdly long. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(s: &str) -> Result<Password, FieldError> {
        if s.chars().count() < MIN_PASSWORD_CHARS {
            return Err(FieldError::new(
                "password_too_short",
                format!("a password has at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        if s.len() > MAX_PASSWORD_BYTES {
            return Err(FieldError::new(
                "password_too_long",
                format!("a password has at most {MAX_PASSWORD_BYTES} bytes"),
            ));
        }
        Ok(Password(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<secret>)")
    }
}

/// What kind of bearer credential a [`Credential`] is; the prefix tells them apart at a
/// glance (and lets secret scanners find leaked tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// An API token secret: `tlt_` + 64 hex digits.
    ApiToken,
    /// A web session id (the cookie's value): `tls_` + 64 hex digits.
    Session,
}

impl CredentialKind {
    fn prefix(self) -> &'static str {
        match self {
            CredentialKind::ApiToken => "tlt_",
            CredentialKind::Session => "tls_",
        }
    }
}

/// An opaque bearer credential made of 32 random bytes. Only its [`digest`](Credential::digest)
/// is stored, so a copy of the database lets nobody in.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(String);

impl Credential {
    /// A new credential from 32 bytes of the caller's cryptographic randomness.
    pub fn new(kind: CredentialKind, random: [u8; 32]) -> Credential {
        Credential(format!("{}{}", kind.prefix(), hex::encode(random)))
    }

    /// Reads a credential a client presented. Anything malformed is refused before a lookup.
    pub fn parse(kind: CredentialKind, s: &str) -> Result<Credential, FieldError> {
        let ok = s.strip_prefix(kind.prefix()).is_some_and(|rest| {
            rest.len() == 64 && rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if ok {
            Ok(Credential(s.to_owned()))
        } else {
            Err(FieldError::new(
                "malformed_credential",
                "the credential is not one this server issues",
            ))
        }
    }

    /// The secret text, for showing once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the text: what the database keeps and looks up by.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<secret>)")
    }
}

/// When repeated failed sign-ins lock an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock the account.
    pub max_failures: u32,
    /// How long it stays locked.
    pub lock_for: chrono::Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 5,
            lock_for: chrono::Duration::minutes(15),
        }
    }
}

/// The permission a CBV business step needs, where one is obvious; `None` for `other` and for
/// steps of the user's own vocabulary.
pub fn permission_for_step(step: &str) -> Option<Permission> {
    use Permission::*;
    Some(match step {
        "receiving" | "accepting" | "arriving" | "unloading" => Receive,
        "commissioning" | "encoding" | "creating_class_instance" => Commission,
        "assembling" | "disassembling" | "packing" | "unpacking" | "repackaging" | "installing"
        | "removing" | "replacing" => Assemble,
        "inspecting" | "sampling" | "sensor_reporting" => Inspect,
        "storing" | "stocking" | "picking" | "loading" | "staging_outbound" | "transporting"
        | "cycle_counting" | "stock_taking" | "entering_exiting" | "collecting" | "reserving" => {
            Move
        }
        "shipping" | "departing" | "consigning" | "retail_selling" | "dispensing"
        | "void_shipping" => Ship,
        "repairing" => Repair,
        "destroying" | "decommissioning" | "killing" => Scrap,
        "holding" => Hold,
        _ => return None,
    })
}

/// The permissions recording `event` needs. Decided from the request as sent, so an actor is
/// refused before anything about the event is checked or revealed.
///
/// * The business step's permission (table in [`permission_for_step`]); a receipt whose
///   disposition is `returned` is a return and needs `return` instead of `receive`.
/// * `scrap` for an object `DELETE` (the unit leaves the books).
/// * `hold` to place or release a QC or admin hold, `recall` for a recall hold.
/// * `correct` when the event corrects an earlier one.
/// * If none of the above applies (no step, `other`, or a step of the user's own
///   vocabulary), the event type decides: object `ADD` and transformations need `commission`,
///   aggregations and associations `assemble`, any other object or transaction event `move`.
pub fn required_for(event: &EventRequest) -> Permissions {
    let mut need = Permissions::NONE;
    let step = event.biz_step.as_ref().map(|s| s.as_str());
    let returned = event
        .disposition
        .as_ref()
        .is_some_and(|d| d.as_str() == "returned");
    match step.and_then(permission_for_step) {
        Some(Permission::Receive) if returned => need = need.with(Permission::Return),
        Some(p) => need = need.with(p),
        None => {}
    }
    if event.kind == EventKind::Object && event.action == Some(Action::Delete) {
        need = need.with(Permission::Scrap);
    }
    match event.hold {
        Some(HoldChange::Place(HoldKind::Recall) | HoldChange::Release(HoldKind::Recall)) => {
            need = need.with(Permission::Recall)
        }
        Some(_) => need = need.with(Permission::Hold),
        None => {}
    }
    if event.corrects.is_some() {
        need = need.with(Permission::Correct);
    }
    if need.is_empty() {
        need = need.with(match (event.kind, event.action) {
            (EventKind::Object, Some(Action::Add)) | (EventKind::Transformation, _) => {
                Permission::Commission
            }
            (EventKind::Aggregation | EventKind::Association, _) => Permission::Assemble,
            _ => Permission::Move,
        });
    }
    need
}

#[cfg(test)]
mod tests {
    use super::*;
    fn event(v: serde_json::Value) -> EventRequest {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn needs(v: serde_json::Value) -> Vec<Permission> {
        required_for(&event(v)).iter().collect()
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn a_name_that_parses_is_safe_to_show_and_to_prefix(s in "[a-zA-Z0-9:._@ \t-]{0,70}|\\PC{0,20}") {
                if let Ok(n) = UserName::parse(&s) {
                    prop_assert_eq!(n.as_str(), s.as_str());
                    prop_assert!(!s.contains(':') && !s.contains(char::is_whitespace));
                    prop_assert!(s.len() <= 64 && !s.is_empty());
                }
            }

            #[test]
            fn only_issued_credentials_parse(random in any::<[u8; 32]>(), s in "\\PC{0,80}") {
                let c = Credential::new(CredentialKind::Session, random);
                prop_assert_eq!(Credential::parse(CredentialKind::Session, c.expose()), Ok(c.clone()));
                prop_assert!(Credential::parse(CredentialKind::ApiToken, c.expose()).is_err());
                if let Ok(p) = Credential::parse(CredentialKind::ApiToken, &s) {
                    prop_assert_eq!(p.expose(), s.as_str());
                }
            }

            #[test]
            fn roles_survive_storage(picks in proptest::collection::vec(0usize..9, 1..6)) {
                let names: Vec<&str> = picks.iter().map(|i| Role::ALL[*i].as_str()).collect();
                let roles = Roles::parse(&names).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(Roles::from_stored(&roles.to_stored()), roles.clone());
                for r in roles.shipped() {
                    prop_assert!(roles.permissions(&[]).covers(r.permissions()));
                }
            }

            #[test]
            fn permissions_survive_storage(bits in 0u32..(1 << 18)) {
                let set = Permission::ALL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bits & (1 << i) != 0)
                    .fold(Permissions::NONE, |s, (_, p)| s.with(*p));
                prop_assert_eq!(Permissions::from_stored(&set.to_stored()), set);
            }

            #[test]
            fn a_role_name_that_parses_is_a_slug_no_shipped_role_has(s in "[a-z0-9_ -]{0,40}|\\PC{0,12}") {
                if let Ok(n) = RoleName::parse(&s) {
                    prop_assert_eq!(n.as_str(), s.as_str());
                    prop_assert!(Role::parse(&s).is_err());
                    prop_assert!(!s.contains(char::is_whitespace) && s.len() <= MAX_ROLE_NAME_LEN);
                    let stored = Roles::parse(&[s.as_str(), "qc"]).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(Roles::from_stored(&stored.to_stored()), stored);
                }
            }
        }
    }

    #[test]
    fn permission_names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Ok(*p));
        }
        assert_eq!(Permission::ALL.len(), 18);
        assert!(Permission::parse("fly").is_err());
    }

    #[test]
    fn shipped_roles_hold_their_jobs_and_nothing_else() {
        use Permission::*;
        assert_eq!(Role::Admin.permissions(), Permissions::all());
        let auditor = Role::Auditor.permissions();
        assert!(auditor.contains(ReadAudit) && auditor.contains(Read));
        assert!(
            !auditor.may_capture() && !auditor.contains(Configure),
            "the auditor only reads"
        );
        assert_eq!(
            Role::Distributor.permissions(),
            Permissions::of(&[Read]),
            "a distributor reads, partner-scoped"
        );
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(*r));
            if *r != Role::Admin {
                let p = r.permissions();
                assert!(!p.contains(ManageUsers) && !p.contains(Configure), "{r}");
            }
        }
        assert!(Role::Qc.permissions().contains(Hold));
        assert!(!Role::Qc.permissions().contains(Recall));
        assert!(Role::Quality.permissions().contains(Recall));
    }

    #[test]
    fn roles_parse_sort_and_store() {
        let r = Roles::parse(&["qc", "warehouse", "qc"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.shipped(), &[Role::Warehouse, Role::Qc]);
        assert_eq!(Roles::from_stored(&r.to_stored()), r);
        let stored = Roles::from_stored("qc future_role Not-A-Role");
        assert_eq!(stored.shipped(), &[Role::Qc]);
        assert_eq!(stored.to_stored(), "qc future_role");
        assert_eq!(
            stored.permissions(&[]),
            Role::Qc.permissions(),
            "a custom role that is not defined grants nothing"
        );
        assert!(Roles::parse::<&str>(&[]).is_err());
        assert_eq!(
            Roles::parse(&["Boss!"]).map_err(|e| e.code),
            Err("unknown_role")
        );
        assert!(r.permissions(&[]).contains(Permission::Inspect));
        assert!(r.permissions(&[]).contains(Permission::Ship));
    }

    #[test]
    fn custom_roles_grant_their_permissions_beside_the_shipped_ones() {
        use Permission::*;
        let def =
            RoleDefinition::parse("line-inspector", " 产线检验员 ", None, &["read", "inspect"])
                .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(def.label, "产线检验员");
        assert_eq!(def.permissions, Permissions::of(&[Read, Inspect]));
        let roles =
            Roles::parse(&["line-inspector", "warehouse"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(roles.to_stored(), "warehouse line-inspector");
        assert!(!roles.is_only(Role::Warehouse) && roles.contains(Role::Warehouse));
        let granted = roles.permissions(std::slice::from_ref(&def));
        assert!(granted.contains(Inspect) && granted.contains(Ship));
        assert!(!roles.permissions(&[]).contains(Inspect));
        assert!(!roles.shipped_permissions().contains(Inspect));
    }

    #[test]
    fn a_role_definition_names_every_problem_by_field() {
        let fields = |r: Result<RoleDefinition, Vec<FieldError>>| -> Vec<(&'static str, String)> {
            r.err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| (e.code, e.field.unwrap_or_default()))
                .collect()
        };
        assert_eq!(
            fields(RoleDefinition::parse("qc", "QC", None, &["read"])),
            [("shipped_role", "name".to_owned())]
        );
        assert_eq!(
            fields(RoleDefinition::parse(&"x".repeat(33), "X", None, &["read"])),
            [("too_long", "name".to_owned())]
        );
        assert_eq!(
            fields(RoleDefinition::parse("Line 1", "X", None, &["read"])),
            [("invalid_character", "name".to_owned())]
        );
        assert_eq!(
            fields(RoleDefinition::parse("ok", " ", None, &["read", "fly"])),
            [
                ("empty", "label".to_owned()),
                ("unknown_permission", "permissions[1]".to_owned())
            ]
        );
        assert_eq!(
            fields(RoleDefinition::parse::<&str>(
                "ok",
                "OK",
                Some(&"d".repeat(501)),
                &[]
            )),
            [
                ("too_long", "description".to_owned()),
                ("no_permissions", "permissions".to_owned())
            ]
        );
    }

    #[test]
    fn names_refuse_colons_and_oddities() {
        assert!(UserName::parse("li.wei@plant-1").is_ok());
        for bad in ["", "token:erp", " admin", "a b", "-x", &"x".repeat(65)] {
            assert!(UserName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            TokenName::parse("erp").map(|t| t.actor()),
            Ok("token:erp".into())
        );
    }

    #[test]
    fn passwords_have_bounds_and_never_print() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(2000)).is_err());
        let p = Password::parse("correct horse").unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn credentials_parse_only_what_was_issued() {
        let c = Credential::new(CredentialKind::ApiToken, [7; 32]);
        assert!(c.expose().starts_with("tlt_"));
        assert_eq!(
            Credential::parse(CredentialKind::ApiToken, c.expose()).map(|c| c.digest()),
            Ok(c.digest())
        );
        assert!(Credential::parse(CredentialKind::Session, c.expose()).is_err());
        assert!(Credential::parse(CredentialKind::ApiToken, "tlt_00").is_err());
        assert!(!format!("{c:?}").contains("0707"));
        assert_ne!(
            c.digest(),
            Credential::new(CredentialKind::ApiToken, [8; 32]).digest()
        );
    }

    #[test]
    fn events_need_the_permission_of_their_step() {
        use Permission::*;
        let t = "2026-06-01T10:00:00+08:00";
        let items = serde_json::json!([{"product": "P", "serial": "S1"}]);
        let obj = |action: &str, step: Option<&str>, extra: serde_json::Value| {
            let mut v = serde_json::json!({"type": "object", "action": action, "event_time": t, "items": items});
            if let Some(s) = step {
                v["biz_step"] = serde_json::json!(s);
            }
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            needs(v)
        };
        let none = serde_json::json!({});
        assert_eq!(
            obj("ADD", Some("commissioning"), none.clone()),
            [Commission]
        );
        assert_eq!(obj("OBSERVE", Some("receiving"), none.clone()), [Receive]);
        assert_eq!(
            obj(
                "OBSERVE",
                Some("receiving"),
                serde_json::json!({"disposition": "returned"})
            ),
            [Return]
        );
        assert_eq!(obj("OBSERVE", Some("shipping"), none.clone()), [Ship]);
        assert_eq!(obj("OBSERVE", Some("retail_selling"), none.clone()), [Ship]);
        assert_eq!(obj("OBSERVE", Some("inspecting"), none.clone()), [Inspect]);
        assert_eq!(obj("OBSERVE", Some("storing"), none.clone()), [Move]);
        assert_eq!(obj("OBSERVE", Some("repairing"), none.clone()), [Repair]);
        assert_eq!(obj("DELETE", Some("destroying"), none.clone()), [Scrap]);
        assert_eq!(obj("DELETE", None, none.clone()), [Scrap]);
        assert_eq!(obj("ADD", None, none.clone()), [Commission]);
        assert_eq!(obj("OBSERVE", None, none.clone()), [Move]);
        assert_eq!(
            obj("OBSERVE", Some("urn:acme:step:burn_in"), none.clone()),
            [Move]
        );
        assert_eq!(
            obj(
                "OBSERVE",
                Some("inspecting"),
                serde_json::json!({"hold": {"place": "qc"}})
            ),
            [Inspect, Hold]
        );
        assert_eq!(
            obj(
                "OBSERVE",
                None,
                serde_json::json!({"hold": {"release": "recall"}})
            ),
            [Recall]
        );
        assert_eq!(
            obj(
                "OBSERVE",
                Some("shipping"),
                serde_json::json!({"corrects": {"event": uuid::Uuid::nil(), "reason": "wrong order"}})
            ),
            [Ship, Correct]
        );
        let agg = needs(
            serde_json::json!({"type": "aggregation", "action": "ADD", "event_time": t,
            "parent": {"product": "P", "serial": "S0"}, "children": items}),
        );
        assert_eq!(agg, [Assemble]);
    }
}
