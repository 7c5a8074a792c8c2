//! The translation catalogue. Every string a person reads in the web UI comes from here, in
//! Simplified Chinese and English; a missing key is a compile-time absence, not a blank page.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// `?lang=` wins; otherwise the browser's first preference between zh and en; Chinese if
    /// the browser asks for neither, since most of our users read it first.
    pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        match query {
            Some(q) if q.starts_with("en") => return Lang::En,
            Some(q) if q.starts_with("zh") => return Lang::Zh,
            _ => {}
        }
        for part in accept_language.unwrap_or("").split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("zh") {
                return Lang::Zh;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::Zh
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// Message keys of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    AppTagline,
    LookUpUnit,
    ScanOrType,
    WarrantyUntil,
    WarrantyExpired,
    WarrantyNotStarted,
    ScanHint,
    Product,
    Serial,
    LookUp,
    Status,
    Location,
    Custodian,
    Lot,
    Parent,
    Components,
    Holds,
    Timeline,
    When,
    Step,
    Where,
    Who,
    NotRegistered,
    LedgerIntact,
    LedgerBroken,
    Entries,
    Engine,
    ApiHint,
    SwitchLanguage,
    Home,
    None,
    SignIn,
    UserName,
    Password,
    SignInButton,
    SignOut,
    SignedInAs,
    InvalidCredentials,
    AccountLocked,
    AccountDisabled,
    FormExpired,
    Forbidden,
    ServerError,
}

pub fn t(lang: Lang, m: Msg) -> &'static str {
    use Msg::*;
    match (lang, m) {
        (Lang::Zh, AppTagline) => "序列号与批次追溯 · 一物一码",
        (Lang::En, AppTagline) => "Serial number and lot traceability · one item, one code",
        (Lang::Zh, LookUpUnit) => "查询单品档案",
        (Lang::En, LookUpUnit) => "Look up a unit",
        (Lang::Zh, WarrantyUntil) => "保修至",
        (Lang::En, WarrantyUntil) => "Under warranty until",
        (Lang::Zh, WarrantyExpired) => "已过保",
        (Lang::En, WarrantyExpired) => "Out of warranty",
        (Lang::Zh, WarrantyNotStarted) => "保修未开始",
        (Lang::En, WarrantyNotStarted) => "Warranty not started",
        (Lang::Zh, ScanOrType) => "扫码或输入序列号",
        (Lang::En, ScanOrType) => "Scan or type a serial number",
        (Lang::Zh, ScanHint) => "支持序列号、GS1 条码（含 FNC1）、GS1 数字链接和 EPC URN",
        (Lang::En, ScanHint) => {
            "Serial numbers, GS1 barcodes (with FNC1), GS1 Digital Link and EPC URNs"
        }
        (Lang::Zh, Product) => "产品",
        (Lang::En, Product) => "Product",
        (Lang::Zh, Serial) => "序列号",
        (Lang::En, Serial) => "Serial number",
        (Lang::Zh, LookUp) => "查询",
        (Lang::En, LookUp) => "Look up",
        (Lang::Zh, Status) => "状态",
        (Lang::En, Status) => "Status",
        (Lang::Zh, Location) => "位置",
        (Lang::En, Location) => "Location",
        (Lang::Zh, Custodian) => "持有方",
        (Lang::En, Custodian) => "Custodian",
        (Lang::Zh, Lot) => "批次",
        (Lang::En, Lot) => "Lot",
        (Lang::Zh, Parent) => "所属父件",
        (Lang::En, Parent) => "Installed in",
        (Lang::Zh, Components) => "组件",
        (Lang::En, Components) => "Components",
        (Lang::Zh, Holds) => "冻结",
        (Lang::En, Holds) => "Holds",
        (Lang::Zh, Timeline) => "履历",
        (Lang::En, Timeline) => "Timeline",
        (Lang::Zh, When) => "时间",
        (Lang::En, When) => "When",
        (Lang::Zh, Step) => "业务步骤",
        (Lang::En, Step) => "Step",
        (Lang::Zh, Where) => "地点",
        (Lang::En, Where) => "Where",
        (Lang::Zh, Who) => "操作人",
        (Lang::En, Who) => "Who",
        (Lang::Zh, NotRegistered) => "该序列号未登记",
        (Lang::En, NotRegistered) => "This serial number is not registered",
        (Lang::Zh, LedgerIntact) => "账本完整",
        (Lang::En, LedgerIntact) => "Ledger intact",
        (Lang::Zh, LedgerBroken) => "账本校验失败",
        (Lang::En, LedgerBroken) => "Ledger check failed",
        (Lang::Zh, Entries) => "条记录",
        (Lang::En, Entries) => "entries",
        (Lang::Zh, Engine) => "数据库",
        (Lang::En, Engine) => "Database",
        (Lang::Zh, ApiHint) => "接口：/api/v1（JSON），健康检查：/healthz",
        (Lang::En, ApiHint) => "API: /api/v1 (JSON), health: /healthz",
        (Lang::Zh, SwitchLanguage) => "English",
        (Lang::En, SwitchLanguage) => "中文",
        (Lang::Zh, Home) => "首页",
        (Lang::En, Home) => "Home",
        (Lang::Zh, None) => "—",
        (Lang::En, None) => "—",
        (Lang::Zh, SignIn) => "登录",
        (Lang::En, SignIn) => "Sign in",
        (Lang::Zh, UserName) => "用户名",
        (Lang::En, UserName) => "User name",
        (Lang::Zh, Password) => "密码",
        (Lang::En, Password) => "Password",
        (Lang::Zh, SignInButton) => "登录",
        (Lang::En, SignInButton) => "Sign in",
        (Lang::Zh, SignOut) => "退出登录",
        (Lang::En, SignOut) => "Sign out",
        (Lang::Zh, SignedInAs) => "当前用户：",
        (Lang::En, SignedInAs) => "Signed in as",
        (Lang::Zh, InvalidCredentials) => "用户名或密码错误",
        (Lang::En, InvalidCredentials) => "The user name or the password is wrong",
        (Lang::Zh, AccountLocked) => "登录失败次数过多，账户已锁定至",
        (Lang::En, AccountLocked) => "Too many failed sign-ins; the account is locked until",
        (Lang::Zh, AccountDisabled) => "该账户已被管理员停用",
        (Lang::En, AccountDisabled) => "An administrator has locked this account",
        (Lang::Zh, FormExpired) => "表单已过期，请重新登录",
        (Lang::En, FormExpired) => "The form has expired; please sign in again",
        (Lang::Zh, Forbidden) => "您没有权限访问此页面",
        (Lang::En, Forbidden) => "You do not have permission to see this page",
        (Lang::Zh, ServerError) => "请求未能处理",
        (Lang::En, ServerError) => "The request could not be handled",
    }
}

/// The display name of a unit status.
pub fn status(lang: Lang, s: threadline_domain::projection::ItemStatus) -> &'static str {
    use threadline_domain::projection::ItemStatus::*;
    match (lang, s) {
        (Lang::Zh, Unassigned) => "未赋码",
        (Lang::En, Unassigned) => "Unassigned",
        (Lang::Zh, InProduction) => "生产中",
        (Lang::En, InProduction) => "In production",
        (Lang::Zh, InStock) => "在库",
        (Lang::En, InStock) => "In stock",
        (Lang::Zh, InTransit) => "在途",
        (Lang::En, InTransit) => "In transit",
        (Lang::Zh, Sold) => "已售出",
        (Lang::En, Sold) => "Sold",
        (Lang::Zh, InRepair) => "维修中",
        (Lang::En, InRepair) => "In repair",
        (Lang::Zh, Returned) => "已退货",
        (Lang::En, Returned) => "Returned",
        (Lang::Zh, Consumed) => "已消耗",
        (Lang::En, Consumed) => "Consumed",
        (Lang::Zh, Scrapped) => "已报废",
        (Lang::En, Scrapped) => "Scrapped",
        (Lang::Zh, Voided) => "已作废",
        (Lang::En, Voided) => "Voided",
    }
}

/// The display name of a hold.
pub fn hold(lang: Lang, h: threadline_domain::event::HoldKind) -> &'static str {
    use threadline_domain::event::HoldKind::*;
    match (lang, h) {
        (Lang::Zh, Qc) => "质检冻结",
        (Lang::En, Qc) => "QC hold",
        (Lang::Zh, Recall) => "召回冻结",
        (Lang::En, Recall) => "Recall hold",
        (Lang::Zh, Admin) => "管理冻结",
        (Lang::En, Admin) => "Admin hold",
    }
}
