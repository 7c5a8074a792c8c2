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
    YourUnits,
    UnitsAtSite,
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
    TooManySignIns,
    FormExpired,
    Forbidden,
    ServerError,
    PageNotFound,
    Menu,
    Passport,
    Trace,
    Recalls,
    ScanStation,
    Operation,
    StationHint,
    Accepted,
    Refused,
    UndoLast,
    ClearList,
    SubmitBatch,
    FieldSupplier,
    FieldPurchaseOrder,
    FieldWorkOrder,
    FieldLine,
    FieldParent,
    FieldSalesOrder,
    FieldRma,
    FieldRepairOrder,
    FieldResult,
    ResultPass,
    ResultFail,
    ResultConditional,
    FieldInspector,
    FieldEngineer,
    FieldFault,
    FieldReason,
    FieldCondition,
    FieldOutcome,
    OutcomeQuarantine,
    OutcomeRestock,
    OutcomeRepair,
    FieldFrom,
    FieldTo,
    FieldCustomer,
    FieldDistributor,
    FieldRegion,
    FieldTracking,
    FieldStation,
    FieldOperator,
    FieldDefectCodes,
    FieldNote,
    FieldCompleted,
    FieldExpected,
    ScanAccepted,
    ScanDuplicate,
    ScanUnreadable,
    ScanNotRegistered,
    ScanAlreadyRegistered,
    ScanWrongProduct,
    ScanWrongState,
    ScanOnHold,
    ScanNotAUnit,
    ScanAmbiguous,
    ScanChooseProduct,
    ScanUnchecked,
    Offline,
    Online,
    Queued,
    Submitted,
    SubmitRefused,
    FieldMissing,
    NothingToSubmit,
    Undone,
    ProcessRules,
    ProcessRulesIntro,
    PlantTimeZone,
    PlantTimeZoneHint,
    ProcessIsDefault,
    StepRules,
    StepRulesHint,
    AllowedStates,
    RefuseHeld,
    ResultState,
    ByDisposition,
    RequiredFieldRules,
    RequiredFieldRulesHint,
    FieldNames,
    RowN,
    VersionHistory,
    StationSignedOut,
    CameraStart,
    FieldPutAway,
    CameraStop,
    CameraFailed,
    StationServerError,
    OperationDetails,
    NoOperationPermitted,
    Corrects,
    Released,
    Corrected,
    /// A partner's EPCIS event recorded although Threadline's state disagreed with it.
    Discrepancy,
    WithOtherUnits,
    /// A timeline event that moved the unit inside a container; `{c}` is its serial.
    InsideContainer,
    QcRecords,
    NoneRecorded,
    Measurements,
    Defects,
    Equipment,
    Repairs,
    Details,
    DigitalLink,
    TraceBackward,
    TraceForward,
    WhereNow,
    FirstSeen,
    Genealogy,
    ProductionDate,
    ExpiryDate,
    Stock,
    Quantity,
    ExpandCollapse,
    TraceGraph,
    Level,
    UnitOrLot,
    ReachedFrom,
    Direction,
    AsOf,
    TraceHint,
    TraceStart,
    RecallFromTrace,
    Units,
    Lots,
    TraceTable,
    Closed,
    Open,
    RecallCode,
    Severity,
    NewRecall,
    Preview,
    CreateRecall,
    RecallHint,
    AffectedByState,
    InOurHands,
    Outside,
    ClosureScrapped,
    ClosureRepaired,
    ClosureReturned,
    ClosureLocated,
    ClosureNotFound,
    AffectedUnits,
    Contacts,
    Recall,
    Scope,
    HeldByRecall,
    Progress,
    Party,
    Name,
    Kind,
    Contact,
    ApiReference,
    ApiDocIntro,
    OpenApiDocument,
    Parameters,
    RequestBody,
    Responses,
    Example,
    Permission,
    Schemas,
    Required,
    Optional,
    ParamIn,
    ParamType,
    Description,
    Contents,
    ErrorShape,
    Dashboard,
    Quality,
    FirstPassYield,
    DefectRate,
    FirstInspected,
    Inspections,
    Failed,
    GroupBy,
    ByLine,
    BySupplier,
    Period,
    Day,
    Week,
    Month,
    DateFrom,
    DateTo,
    TimeZone,
    Show,
    UnitsNow,
    UnitsByStatus,
    UnitsByLocation,
    ChannelView,
    AuthenticityAlerts,
    AuthenticityHint,
    NoAuthenticityAlerts,
    PartnerReports,
    PartnerReportsHint,
    PastHoldReports,
    PastHoldHint,
    NoPastHold,
    RecentPartnerReports,
    NoPartnerReports,
    DiscrepanciesLast30Days,
    PastHoldLast30Days,
    ReportedUnit,
    EventTime,
    WhatDiffers,
    ReportField,
    Verdict,
    Diversions,
    DiversionsHint,
    NoDiversions,
    AuthorisedRegions,
    SoldInRegion,
    Distributor,
    Regions,
    InTransitTo,
    InStockAt,
    SoldInWindow,
    SoldByRegion,
    Service,
    RepairTurnaround,
    RepairsCompleted,
    AverageDays,
    LongestDays,
    WithinDay,
    Within3Days,
    WithinWeek,
    TopFaults,
    TopDefects,
    NoData,
    Unspecified,
    Total,
    Seller,
    Region,
    QualityHint,
    TurnaroundHint,
    BadFilter,
    Search,
    SearchLabel,
    SearchHint,
    NothingFound,
    Orders,
    OrderType,
    OrderNumber,
    EventsCount,
    FirstEvent,
    LastEvent,
    PartiesFound,
    UnitsHeld,
    UnitsOfOrder,
    UnitsHeldBy,
    OrderPo,
    OrderProd,
    OrderSo,
    OrderRma,
    OrderRo,
    OnHold,
    ProductFound,
    Admin,
    Products,
    SerialRules,
    RuleTemplate,
    SequenceReset,
    SequenceStart,
    Uniqueness,
    RuleCategories,
    RulePreview,
    RulePreviewHint,
    SampleProduct,
    SampleLine,
    Parties,
    Locations,
    Code,
    Tracking,
    Gtin,
    Uom,
    Category,
    WarrantyMonths,
    Attributes,
    AttrName,
    AttrType,
    AttrRequired,
    AttrOptions,
    AttributesHint,
    NewRecord,
    EditRecord,
    Save,
    SavedRecord,
    Labels,
    LabelTemplates,
    LabelsIntro,
    AllocateSerials,
    AllocateHint,
    AllocateButton,
    AllocatedBlock,
    PrintLabels,
    AllocationId,
    LabelTemplate,
    LabelOutput,
    OutputPdfRoll,
    OutputPdfA4,
    OutputZpl,
    NetworkPrinter,
    PrintHint,
    PrintButton,
    SentToPrinter,
    ReprintLabel,
    ReprintHint,
    ReprintButton,
    NoLabelTemplates,
    TemplateName,
    TemplateDefinition,
    TemplateHint,
    PreviewValues,
    LabelSize,
    LabelFields,
    UpdatedBy,
    Version,
    RegionsList,
    ContactPerson,
    Phone,
    Email,
    Address,
    ParentParty,
    ParentLocation,
    OwnerParty,
    DistributorParty,
    DistributorPartyHint,
    RegionOfLocation,
    FixErrors,
    Users,
    Roles,
    Tokens,
    CustomRoles,
    CustomRolesHint,
    NoCustomRoles,
    ShippedRoles,
    ShippedRolesHint,
    NewRole,
    RoleName,
    RoleNameHint,
    RoleLabel,
    Permissions,
    HeldBy,
    CopyRole,
    DeleteRole,
    NotFoundPage,
    CloseRecall,
    CloseNote,
    CloseHint,
    Signature,
    SignatureHint,
    SignatureMeaning,
    ClosureApproved,
    NarrowRecall,
    NarrowHint,
    Narrowings,
    RemovedFromRecall,
    HoldsReleased,
    NewUser,
    NewToken,
    SetRoles,
    LockUser,
    UnlockUser,
    Revoke,
    Created,
    CreatedBy,
    LastUsed,
    Revoked,
    Active,
    Disabled,
    TokenSecret,
    Webhooks,
    WebhooksIntro,
    NewWebhook,
    NoWebhooks,
    WebhookUrl,
    WebhookFormat,
    WebhookFilter,
    WebhookPaused,
    WebhookSecret,
    WebhookSecretHint,
    WebhookSecretShown,
    WebhookTopics,
    WebhookTopicsHint,
    WebhookListHint,
    FilterProducts,
    FilterLocations,
    FilterSteps,
    MessageLanguage,
    EveryEvent,
    DisableWebhook,
    EnableWebhook,
    Updated,
    DeliveryLog,
    DeliveryLogHint,
    DeliverySubject,
    PickWebhook,
    NoDeliveries,
    AllStatuses,
    Attempts,
    LastAttempt,
    LastHttpStatus,
    LastError,
    Redeliver,
    LedgerEvent,
    AuthenticityCheck,
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
        (Lang::Zh, YourUnits) => "你方单品",
        (Lang::En, YourUnits) => "Your units",
        (Lang::Zh, UnitsAtSite) => "本厂区单品",
        (Lang::En, UnitsAtSite) => "Units at your site",
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
        (Lang::Zh, TooManySignIns) => "此地址登录失败次数过多，请稍后再试，最早于",
        (Lang::En, TooManySignIns) => "Too many failed sign-ins from this address. Try again after",
        (Lang::Zh, AccountDisabled) => "该账户已被管理员停用",
        (Lang::En, AccountDisabled) => "An administrator has locked this account",
        (Lang::Zh, FormExpired) => "表单已过期，请重新登录",
        (Lang::En, FormExpired) => "The form has expired; please sign in again",
        (Lang::Zh, Forbidden) => "您没有权限访问此页面",
        (Lang::En, Forbidden) => "You do not have permission to see this page",
        (Lang::Zh, ServerError) => "请求未能处理",
        (Lang::En, ServerError) => "The request could not be handled",
        (Lang::Zh, PageNotFound) => "未找到",
        (Lang::En, PageNotFound) => "Not found",
        (Lang::Zh, Menu) => "主菜单",
        (Lang::En, Menu) => "Main menu",
        (Lang::Zh, Passport) => "单品档案",
        (Lang::En, Passport) => "Passport",
        (Lang::Zh, Trace) => "追溯",
        (Lang::En, Trace) => "Trace",
        (Lang::Zh, Recalls) => "召回",
        (Lang::En, Recalls) => "Recalls",
        (Lang::Zh, ScanStation) => "扫码工作站",
        (Lang::En, ScanStation) => "Scan station",
        (Lang::Zh, Operation) => "作业",
        (Lang::En, Operation) => "Operation",
        (Lang::Zh, StationHint) => {
            "扫码枪扫描后自动回车；也可手动输入后按回车。断网时扫码先存在本机，联网后自动提交。"
        }
        (Lang::En, StationHint) => {
            "A scanner sends the code and Enter; you can also type a code and press Enter. Without a network, scans are kept on this device and submitted when it returns."
        }
        (Lang::Zh, Accepted) => "已接受",
        (Lang::En, Accepted) => "accepted",
        (Lang::Zh, Refused) => "被拒绝",
        (Lang::En, Refused) => "refused",
        (Lang::Zh, UndoLast) => "撤销上一条",
        (Lang::En, UndoLast) => "Undo last scan",
        (Lang::Zh, ClearList) => "清空",
        (Lang::En, ClearList) => "Clear",
        (Lang::Zh, SubmitBatch) => "提交",
        (Lang::En, SubmitBatch) => "Submit",
        (Lang::Zh, FieldSupplier) => "供应商",
        (Lang::En, FieldSupplier) => "Supplier",
        (Lang::Zh, FieldPurchaseOrder) => "采购订单号",
        (Lang::En, FieldPurchaseOrder) => "Purchase order",
        (Lang::Zh, FieldWorkOrder) => "工单号",
        (Lang::En, FieldWorkOrder) => "Work order",
        (Lang::Zh, FieldLine) => "产线",
        (Lang::En, FieldLine) => "Line",
        (Lang::Zh, FieldParent) => "父件（扫码）",
        (Lang::En, FieldParent) => "Parent unit (scan)",
        (Lang::Zh, FieldSalesOrder) => "销售订单号",
        (Lang::En, FieldSalesOrder) => "Sales order",
        (Lang::Zh, FieldRma) => "退货授权号 (RMA)",
        (Lang::En, FieldRma) => "RMA number",
        (Lang::Zh, FieldRepairOrder) => "维修单号",
        (Lang::En, FieldRepairOrder) => "Repair order",
        (Lang::Zh, FieldResult) => "检验结果",
        (Lang::En, FieldResult) => "Result",
        (Lang::Zh, ResultPass) => "合格",
        (Lang::En, ResultPass) => "Pass",
        (Lang::Zh, ResultFail) => "不合格",
        (Lang::En, ResultFail) => "Fail",
        (Lang::Zh, ResultConditional) => "让步接收",
        (Lang::En, ResultConditional) => "Conditional",
        (Lang::Zh, FieldInspector) => "检验员",
        (Lang::En, FieldInspector) => "Inspector",
        (Lang::Zh, FieldEngineer) => "维修工程师",
        (Lang::En, FieldEngineer) => "Engineer",
        (Lang::Zh, FieldFault) => "故障描述",
        (Lang::En, FieldFault) => "Fault",
        (Lang::Zh, FieldReason) => "原因",
        (Lang::En, FieldReason) => "Reason",
        (Lang::Zh, FieldCondition) => "外观状况",
        (Lang::En, FieldCondition) => "Condition",
        (Lang::Zh, FieldOutcome) => "处理方式",
        (Lang::En, FieldOutcome) => "Outcome",
        (Lang::Zh, OutcomeQuarantine) => "隔离待判",
        (Lang::En, OutcomeQuarantine) => "Quarantine",
        (Lang::Zh, OutcomeRestock) => "重新入库",
        (Lang::En, OutcomeRestock) => "Restock",
        (Lang::Zh, OutcomeRepair) => "转维修",
        (Lang::En, OutcomeRepair) => "Repair",
        (Lang::Zh, FieldFrom) => "来源库位",
        (Lang::En, FieldFrom) => "From",
        (Lang::Zh, FieldTo) => "目标库位",
        (Lang::En, FieldTo) => "To",
        (Lang::Zh, FieldCustomer) => "客户",
        (Lang::En, FieldCustomer) => "Customer",
        (Lang::Zh, FieldDistributor) => "经销商",
        (Lang::En, FieldDistributor) => "Distributor",
        (Lang::Zh, FieldRegion) => "收货地区",
        (Lang::En, FieldRegion) => "Ship-to region",
        (Lang::Zh, FieldTracking) => "运单号",
        (Lang::En, FieldTracking) => "Tracking number",
        (Lang::Zh, FieldStation) => "工位",
        (Lang::En, FieldStation) => "Station",
        (Lang::Zh, FieldOperator) => "操作员",
        (Lang::En, FieldOperator) => "Operator",
        (Lang::Zh, FieldDefectCodes) => "缺陷代码（逗号分隔）",
        (Lang::En, FieldDefectCodes) => "Defect codes (comma-separated)",
        (Lang::Zh, FieldNote) => "备注",
        (Lang::En, FieldNote) => "Note",
        (Lang::Zh, FieldCompleted) => "维修完成",
        (Lang::En, FieldCompleted) => "Repair completed",
        (Lang::Zh, FieldExpected) => "计划数量",
        (Lang::En, FieldExpected) => "Expected quantity",
        (Lang::Zh, ScanAccepted) => "通过",
        (Lang::En, ScanAccepted) => "OK",
        (Lang::Zh, ScanDuplicate) => "重复扫码",
        (Lang::En, ScanDuplicate) => "Scanned twice",
        (Lang::Zh, ScanUnreadable) => "无法识别的条码",
        (Lang::En, ScanUnreadable) => "Unreadable code",
        (Lang::Zh, ScanNotRegistered) => "未登记的序列号",
        (Lang::En, ScanNotRegistered) => "Not registered",
        (Lang::Zh, ScanAlreadyRegistered) => "序列号已登记",
        (Lang::En, ScanAlreadyRegistered) => "Already registered",
        (Lang::Zh, ScanWrongProduct) => "产品不符",
        (Lang::En, ScanWrongProduct) => "Wrong product",
        (Lang::Zh, ScanWrongState) => "状态不允许此作业",
        (Lang::En, ScanWrongState) => "Not allowed in this state",
        (Lang::Zh, ScanOnHold) => "已冻结",
        (Lang::En, ScanOnHold) => "On hold",
        (Lang::Zh, ScanNotAUnit) => "不是单品条码",
        (Lang::En, ScanNotAUnit) => "Not a unit",
        (Lang::Zh, ScanAmbiguous) => "多个产品有此序列号，请扫 GS1 条码",
        (Lang::En, ScanAmbiguous) => "Serial of several products; scan the GS1 code",
        (Lang::Zh, ScanChooseProduct) => "请先选择产品",
        (Lang::En, ScanChooseProduct) => "Choose the product first",
        (Lang::Zh, ScanUnchecked) => "待校验（离线）",
        (Lang::En, ScanUnchecked) => "Not checked yet (offline)",
        (Lang::Zh, Offline) => "离线",
        (Lang::En, Offline) => "Offline",
        (Lang::Zh, Online) => "在线",
        (Lang::En, Online) => "Online",
        (Lang::Zh, Queued) => "待提交",
        (Lang::En, Queued) => "Waiting to submit",
        (Lang::Zh, Submitted) => "已提交",
        (Lang::En, Submitted) => "Submitted",
        (Lang::Zh, SubmitRefused) => "提交被拒绝",
        (Lang::En, SubmitRefused) => "Refused",
        (Lang::Zh, FieldMissing) => "请填写",
        (Lang::En, FieldMissing) => "Please fill in",
        (Lang::Zh, NothingToSubmit) => "没有可提交的扫码",
        (Lang::En, NothingToSubmit) => "No accepted scans to submit",
        (Lang::Zh, Undone) => "已撤销",
        (Lang::En, Undone) => "Undone",
        (Lang::Zh, ProcessRules) => "工序规则",
        (Lang::En, ProcessRules) => "Process rules",
        (Lang::Zh, PlantTimeZone) => "工厂时区",
        (Lang::En, PlantTimeZone) => "Plant time zone",
        (Lang::Zh, PlantTimeZoneHint) => {
            "IANA 时区名，如 Asia/Shanghai。所有页面的日期和时间按此时区显示，看板也按此时区划分日期。留空即 Asia/Shanghai。"
        }
        (Lang::En, PlantTimeZoneHint) => {
            "An IANA name such as Asia/Shanghai. Every page shows dates and times in this zone, and the dashboards cut days there. Empty means Asia/Shanghai."
        }
        (Lang::Zh, ProcessRulesIntro) => {
            "扫码时按这些规则判断：每个作业允许在哪些状态下进行、是否拒绝已冻结的单品、作业后单品处于什么状态，以及某类产品的作业必须填写哪些字段。规则只约束今后的作业，已记录的事件不会改变；每次保存都是新版本，记入账本和审计日志。"
        }
        (Lang::En, ProcessRulesIntro) => {
            "Every scan is judged by these rules: in which unit states each operation is allowed, whether it refuses units on hold, the state it leaves units in, and which fields an operation must carry for a product category. They apply to what is recorded from now on; events already recorded stay as they are. Each save is a new version, in the ledger and the audit trail."
        }
        (Lang::Zh, ProcessIsDefault) => "尚未保存本厂规则：当前使用系统默认规则（版本 0）。",
        (Lang::En, ProcessIsDefault) => {
            "No plant rules saved yet: the shipped default applies (version 0)."
        }
        (Lang::Zh, StepRules) => "作业与状态",
        (Lang::En, StepRules) => "Operations and unit states",
        (Lang::Zh, StepRulesHint) => {
            "一个状态都不勾选：任何仍可作业的状态均可（已报废、已消耗、已作废的除外）。"
        }
        (Lang::En, StepRulesHint) => {
            "No state ticked: any state a unit can still take steps in (not scrapped, consumed or voided)."
        }
        (Lang::Zh, AllowedStates) => "允许的状态",
        (Lang::En, AllowedStates) => "Allowed states",
        (Lang::Zh, RefuseHeld) => "拒绝已冻结的单品",
        (Lang::En, RefuseHeld) => "Refuse units on hold",
        (Lang::Zh, ResultState) => "作业后状态",
        (Lang::En, ResultState) => "Leaves units",
        (Lang::Zh, ByDisposition) => "按事件的处置决定",
        (Lang::En, ByDisposition) => "As the event's disposition says",
        (Lang::Zh, RequiredFieldRules) => "必填字段",
        (Lang::En, RequiredFieldRules) => "Required fields",
        (Lang::Zh, RequiredFieldRulesHint) => {
            "例如医疗器械质检必须记录检验员和设备：作业选“质检”，类别填 medical，字段填 inspector, equipment。类别留空表示所有产品。"
        }
        (Lang::En, RequiredFieldRulesHint) => {
            "For example, medical devices need the inspector and the equipment on every inspection: operation Inspection, category medical, fields inspector, equipment. No category means every product."
        }
        (Lang::Zh, FieldNames) => "字段名（逗号分隔）",
        (Lang::En, FieldNames) => "Field names (comma-separated)",
        (Lang::Zh, RowN) => "第 {n} 行",
        (Lang::En, RowN) => "row {n}",
        (Lang::Zh, VersionHistory) => "版本历史",
        (Lang::En, VersionHistory) => "Version history",
        (Lang::Zh, FieldPutAway) => "入库上架（产线完工的单品转为在库）",
        (Lang::En, FieldPutAway) => "Put away into stock (units from a line become in stock)",
        (Lang::Zh, CameraStart) => "用摄像头扫码",
        (Lang::En, CameraStart) => "Scan with the camera",
        (Lang::Zh, CameraStop) => "关闭摄像头",
        (Lang::En, CameraStop) => "Stop the camera",
        (Lang::Zh, CameraFailed) => "无法打开摄像头，请用扫码枪或手动输入",
        (Lang::En, CameraFailed) => {
            "The camera could not be opened: use the scanner or type the code"
        }
        (Lang::Zh, StationSignedOut) => "登录已失效，请重新登录；待提交的扫码已保留",
        (Lang::En, StationSignedOut) => {
            "Signed out: sign in again; the scans waiting to be submitted are kept"
        }
        (Lang::Zh, StationServerError) => "服务器暂时无法处理，稍后自动重试",
        (Lang::En, StationServerError) => "The server could not answer; trying again shortly",
        (Lang::Zh, OperationDetails) => "作业信息",
        (Lang::En, OperationDetails) => "Operation details",
        (Lang::Zh, NoOperationPermitted) => "您的角色不允许任何扫码作业。",
        (Lang::En, NoOperationPermitted) => "Your roles allow no scanning operation.",
        (Lang::Zh, Corrects) => "更正",
        (Lang::En, Corrects) => "Corrects",
        (Lang::Zh, Released) => "解除",
        (Lang::En, Released) => "Released",
        (Lang::Zh, WithOtherUnits) => "（同批另有 {n} 个单元）",
        (Lang::En, WithOtherUnits) => "(with {n} other units)",
        (Lang::Zh, InsideContainer) => "（随容器 {c}）",
        (Lang::En, InsideContainer) => "(inside container {c})",
        (Lang::Zh, Corrected) => "已更正",
        (Lang::En, Corrected) => "Corrected",
        (Lang::Zh, Discrepancy) => "合作方报告与系统记录不符",
        (Lang::En, Discrepancy) => "Partner's report differs from our records",
        (Lang::Zh, QcRecords) => "质检记录",
        (Lang::En, QcRecords) => "QC records",
        (Lang::Zh, NoneRecorded) => "暂无记录",
        (Lang::En, NoneRecorded) => "None recorded",
        (Lang::Zh, Measurements) => "测量值",
        (Lang::En, Measurements) => "Measurements",
        (Lang::Zh, Defects) => "缺陷",
        (Lang::En, Defects) => "Defects",
        (Lang::Zh, Equipment) => "设备",
        (Lang::En, Equipment) => "Equipment",
        (Lang::Zh, Repairs) => "退货与维修",
        (Lang::En, Repairs) => "Returns and repairs",
        (Lang::Zh, Details) => "详情",
        (Lang::En, Details) => "Details",
        (Lang::Zh, DigitalLink) => "GS1 数字链接",
        (Lang::En, DigitalLink) => "GS1 Digital Link",
        (Lang::Zh, TraceBackward) => "逆向溯源",
        (Lang::En, TraceBackward) => "Trace backward",
        (Lang::Zh, TraceForward) => "正向追踪",
        (Lang::En, TraceForward) => "Trace forward",
        (Lang::Zh, WhereNow) => "当前状态",
        (Lang::En, WhereNow) => "Where it is now",
        (Lang::Zh, FirstSeen) => "首次登记",
        (Lang::En, FirstSeen) => "First recorded",
        (Lang::Zh, Genealogy) => "父子关系",
        (Lang::En, Genealogy) => "Genealogy",
        (Lang::Zh, ProductionDate) => "生产日期",
        (Lang::En, ProductionDate) => "Production date",
        (Lang::Zh, ExpiryDate) => "有效期至",
        (Lang::En, ExpiryDate) => "Expiry date",
        (Lang::Zh, Stock) => "库存",
        (Lang::En, Stock) => "Stock",
        (Lang::Zh, Quantity) => "数量",
        (Lang::En, Quantity) => "Quantity",
        (Lang::Zh, ExpandCollapse) => "展开/折叠",
        (Lang::En, ExpandCollapse) => "Expand or collapse",
        (Lang::Zh, TraceGraph) => "追溯关系图",
        (Lang::En, TraceGraph) => "Trace graph",
        (Lang::Zh, Level) => "层级",
        (Lang::En, Level) => "Level",
        (Lang::Zh, UnitOrLot) => "单品/批次",
        (Lang::En, UnitOrLot) => "Unit or lot",
        (Lang::Zh, ReachedFrom) => "上级",
        (Lang::En, ReachedFrom) => "Reached from",
        (Lang::Zh, Direction) => "方向",
        (Lang::En, Direction) => "Direction",
        (Lang::Zh, AsOf) => "截至",
        (Lang::En, AsOf) => "As of",
        (Lang::Zh, TraceHint) => "填写产品和序列号或批次号；正向追踪也可只填供应商或工单。",
        (Lang::En, TraceHint) => {
            "Give a product with a serial or a lot; a forward trace can also start from a supplier or a work order."
        }
        (Lang::Zh, TraceStart) => "起点",
        (Lang::En, TraceStart) => "Start",
        (Lang::Zh, RecallFromTrace) => "以此范围发起召回",
        (Lang::En, RecallFromTrace) => "Start a recall from this scope",
        (Lang::Zh, Units) => "单品",
        (Lang::En, Units) => "Units",
        (Lang::Zh, Lots) => "批次",
        (Lang::En, Lots) => "Lots",
        (Lang::Zh, TraceTable) => "明细",
        (Lang::En, TraceTable) => "Details",
        (Lang::Zh, Closed) => "已结案",
        (Lang::En, Closed) => "Closed",
        (Lang::Zh, Open) => "进行中",
        (Lang::En, Open) => "Open",
        (Lang::Zh, RecallCode) => "召回编号",
        (Lang::En, RecallCode) => "Recall code",
        (Lang::Zh, Severity) => "严重程度",
        (Lang::En, Severity) => "Severity",
        (Lang::Zh, NewRecall) => "发起召回",
        (Lang::En, NewRecall) => "New recall",
        (Lang::Zh, Preview) => "预览影响范围",
        (Lang::En, Preview) => "Preview",
        (Lang::Zh, CreateRecall) => "创建召回并冻结在库单品",
        (Lang::En, CreateRecall) => "Create the recall and hold what we have",
        (Lang::Zh, RecallHint) => {
            "创建后，所有仍在我方的受影响单品和批次将被召回冻结，不能再发货。"
        }
        (Lang::En, RecallHint) => {
            "Creating it places a recall hold on every affected unit and lot still in our hands; they can no longer be shipped."
        }
        (Lang::Zh, AffectedByState) => "受影响单品（按状态）",
        (Lang::En, AffectedByState) => "Affected units by state",
        (Lang::Zh, InOurHands) => "在我方",
        (Lang::En, InOurHands) => "In our hands",
        (Lang::Zh, Outside) => "已流出",
        (Lang::En, Outside) => "Outside",
        (Lang::Zh, ClosureScrapped) => "已报废",
        (Lang::En, ClosureScrapped) => "Scrapped",
        (Lang::Zh, ClosureRepaired) => "已修复",
        (Lang::En, ClosureRepaired) => "Repaired",
        (Lang::Zh, ClosureReturned) => "已退回",
        (Lang::En, ClosureReturned) => "Returned",
        (Lang::Zh, ClosureLocated) => "已定位",
        (Lang::En, ClosureLocated) => "Located",
        (Lang::Zh, ClosureNotFound) => "未找到",
        (Lang::En, ClosureNotFound) => "Not found",
        (Lang::Zh, AffectedUnits) => "受影响单品",
        (Lang::En, AffectedUnits) => "Affected units",
        (Lang::Zh, Contacts) => "联系名单",
        (Lang::En, Contacts) => "Contacts",
        (Lang::Zh, Recall) => "召回",
        (Lang::En, Recall) => "Recall",
        (Lang::Zh, Scope) => "范围",
        (Lang::En, Scope) => "Scope",
        (Lang::Zh, HeldByRecall) => "已召回冻结",
        (Lang::En, HeldByRecall) => "Held by the recall",
        (Lang::Zh, Progress) => "进度",
        (Lang::En, Progress) => "Progress",
        (Lang::Zh, Party) => "单位代码",
        (Lang::En, Party) => "Party",
        (Lang::Zh, Name) => "名称",
        (Lang::En, Name) => "Name",
        (Lang::Zh, Kind) => "类别",
        (Lang::En, Kind) => "Kind",
        (Lang::Zh, Contact) => "联系方式",
        (Lang::En, Contact) => "Contact",
        (Lang::Zh, ApiReference) => "API 参考",
        (Lang::En, ApiReference) => "API reference",
        (Lang::Zh, ApiDocIntro) => {
            "Threadline 的全部 /api/v1 接口：权限、参数、请求与响应的结构和示例。本页由 OpenAPI 3.1 文档生成，ERP / MES 可直接导入该文档。"
        }
        (Lang::En, ApiDocIntro) => {
            "Every /api/v1 endpoint of Threadline: permission, parameters, request and response shapes, and examples. This page is drawn from the OpenAPI 3.1 document, which an ERP or MES can import as it is."
        }
        (Lang::Zh, OpenApiDocument) => "下载 OpenAPI 文档 (JSON)",
        (Lang::En, OpenApiDocument) => "Download the OpenAPI document (JSON)",
        (Lang::Zh, Parameters) => "参数",
        (Lang::En, Parameters) => "Parameters",
        (Lang::Zh, RequestBody) => "请求体",
        (Lang::En, RequestBody) => "Request body",
        (Lang::Zh, Responses) => "响应",
        (Lang::En, Responses) => "Responses",
        (Lang::Zh, Example) => "示例",
        (Lang::En, Example) => "Example",
        (Lang::Zh, Permission) => "权限",
        (Lang::En, Permission) => "Permission",
        (Lang::Zh, Schemas) => "数据结构",
        (Lang::En, Schemas) => "Schemas",
        (Lang::Zh, Required) => "必填",
        (Lang::En, Required) => "Required",
        (Lang::Zh, Optional) => "可选",
        (Lang::En, Optional) => "Optional",
        (Lang::Zh, ParamIn) => "位置",
        (Lang::En, ParamIn) => "In",
        (Lang::Zh, ParamType) => "类型",
        (Lang::En, ParamType) => "Type",
        (Lang::Zh, Description) => "说明",
        (Lang::En, Description) => "Description",
        (Lang::Zh, Contents) => "目录",
        (Lang::En, Contents) => "Contents",
        (Lang::Zh, ErrorShape) => {
            "所有错误都以相同的结构返回：error 为第一个问题，errors 列出全部问题，field 指出出错的输入。"
        }
        (Lang::En, ErrorShape) => {
            "Every refusal has the same shape: error is the first problem, errors lists them all, and field names the input at fault."
        }
        (Lang::Zh, Dashboard) => "看板",
        (Lang::En, Dashboard) => "Dashboards",
        (Lang::Zh, Quality) => "质量",
        (Lang::En, Quality) => "Quality",
        (Lang::Zh, FirstPassYield) => "一次合格率",
        (Lang::En, FirstPassYield) => "First-pass yield",
        (Lang::Zh, DefectRate) => "不良率",
        (Lang::En, DefectRate) => "Defect rate",
        (Lang::Zh, FirstInspected) => "首检单品",
        (Lang::En, FirstInspected) => "Units first inspected",
        (Lang::Zh, Inspections) => "检验次数",
        (Lang::En, Inspections) => "Inspections",
        (Lang::Zh, Failed) => "不合格",
        (Lang::En, Failed) => "Failed",
        (Lang::Zh, GroupBy) => "分组",
        (Lang::En, GroupBy) => "Group by",
        (Lang::Zh, ByLine) => "产线",
        (Lang::En, ByLine) => "Line",
        (Lang::Zh, BySupplier) => "供应商",
        (Lang::En, BySupplier) => "Supplier",
        (Lang::Zh, Period) => "周期",
        (Lang::En, Period) => "Period",
        (Lang::Zh, Day) => "按日",
        (Lang::En, Day) => "Day",
        (Lang::Zh, Week) => "按周",
        (Lang::En, Week) => "Week",
        (Lang::Zh, Month) => "按月",
        (Lang::En, Month) => "Month",
        (Lang::Zh, DateFrom) => "开始日期",
        (Lang::En, DateFrom) => "From",
        (Lang::Zh, DateTo) => "结束日期",
        (Lang::En, DateTo) => "To",
        (Lang::Zh, TimeZone) => "时区",
        (Lang::En, TimeZone) => "Time zone",
        (Lang::Zh, Show) => "显示",
        (Lang::En, Show) => "Show",
        (Lang::Zh, UnitsNow) => "单品现状",
        (Lang::En, UnitsNow) => "Units now",
        (Lang::Zh, UnitsByStatus) => "按状态",
        (Lang::En, UnitsByStatus) => "By state",
        (Lang::Zh, UnitsByLocation) => "按位置（账内）",
        (Lang::En, UnitsByLocation) => "By location (on the books)",
        (Lang::Zh, ChannelView) => "渠道",
        (Lang::En, ChannelView) => "Sales channel",
        (Lang::Zh, AuthenticityAlerts) => "防伪预警",
        (Lang::En, AuthenticityAlerts) => "Authenticity alerts",
        (Lang::Zh, AuthenticityHint) => "外部扫码验证中可疑或无法识别的码（最近 20 条）。",
        (Lang::En, AuthenticityHint) => {
            "Codes checked from outside that were suspicious or not issued by us (latest 20)."
        }
        (Lang::Zh, PartnerReports) => "合作方报告",
        (Lang::En, PartnerReports) => "Partner reports",
        (Lang::Zh, PartnerReportsHint) => {
            "合作方通过 EPCIS 报告的事件已照记，但与系统的状态或流程不符（最近 30 天内收到的）。"
        }
        (Lang::En, PartnerReportsHint) => {
            "Events partners reported through EPCIS, recorded although Threadline's state or process disagreed (received in the last 30 days)."
        }
        (Lang::Zh, PastHoldReports) => "越过冻结的报告",
        (Lang::En, PastHoldReports) => "Reports past a hold",
        (Lang::Zh, PastHoldHint) => {
            "冻结本应拦下出货：合作方报告移动了冻结中的单元（最近 20 条）。请核查。"
        }
        (Lang::En, PastHoldHint) => {
            "A hold is there to stop a shipment: a partner reported moving these units while they were on hold (latest 20). Look into each."
        }
        (Lang::Zh, NoPastHold) => "最近 30 天没有合作方报告越过冻结。",
        (Lang::En, NoPastHold) => "No partner report past a hold in the last 30 days.",
        (Lang::Zh, RecentPartnerReports) => "最近的不符报告",
        (Lang::En, RecentPartnerReports) => "Latest reports that differ",
        (Lang::Zh, NoPartnerReports) => "最近 30 天没有与系统不符的合作方报告。",
        (Lang::En, NoPartnerReports) => {
            "No partner report differed from our records in the last 30 days."
        }
        (Lang::Zh, DiscrepanciesLast30Days) => "不符项（30 天）",
        (Lang::En, DiscrepanciesLast30Days) => "Discrepancies (30 days)",
        (Lang::Zh, PastHoldLast30Days) => "越过冻结（30 天）",
        (Lang::En, PastHoldLast30Days) => "Past a hold (30 days)",
        (Lang::Zh, ReportedUnit) => "单元",
        (Lang::En, ReportedUnit) => "Unit",
        (Lang::Zh, EventTime) => "事件时间",
        (Lang::En, EventTime) => "Event time",
        (Lang::Zh, WhatDiffers) => "不符之处",
        (Lang::En, WhatDiffers) => "What differs",
        (Lang::Zh, ReportField) => "报告中的字段",
        (Lang::En, ReportField) => "Field in the report",
        (Lang::Zh, NoAuthenticityAlerts) => "本期间没有可疑的验证。",
        (Lang::En, NoAuthenticityAlerts) => "No suspicious check in this period.",
        (Lang::Zh, Verdict) => "结论",
        (Lang::En, Verdict) => "Verdict",
        (Lang::Zh, Diversions) => "窜货预警",
        (Lang::En, Diversions) => "Diversion alerts",
        (Lang::Zh, DiversionsHint) => "经销商在授权区域以外销售的单元（按销售方和区域）。",
        (Lang::En, DiversionsHint) => {
            "Units a distributor sold outside its authorised regions, by seller and region."
        }
        (Lang::Zh, NoDiversions) => "本期间没有超出授权区域的销售。",
        (Lang::En, NoDiversions) => "No sale outside the authorised regions in this period.",
        (Lang::Zh, AuthorisedRegions) => "授权区域",
        (Lang::En, AuthorisedRegions) => "Authorised regions",
        (Lang::Zh, SoldInRegion) => "销售区域",
        (Lang::En, SoldInRegion) => "Sold in",
        (Lang::Zh, Distributor) => "经销商",
        (Lang::En, Distributor) => "Distributor",
        (Lang::Zh, Regions) => "区域",
        (Lang::En, Regions) => "Regions",
        (Lang::Zh, InTransitTo) => "在途",
        (Lang::En, InTransitTo) => "In transit",
        (Lang::Zh, InStockAt) => "库存",
        (Lang::En, InStockAt) => "In stock",
        (Lang::Zh, SoldInWindow) => "期间售出",
        (Lang::En, SoldInWindow) => "Sold in the period",
        (Lang::Zh, SoldByRegion) => "售出（按地区）",
        (Lang::En, SoldByRegion) => "Sold by region",
        (Lang::Zh, Service) => "售后维修",
        (Lang::En, Service) => "Service",
        (Lang::Zh, RepairTurnaround) => "维修周期",
        (Lang::En, RepairTurnaround) => "Repair turnaround",
        (Lang::Zh, RepairsCompleted) => "完成维修",
        (Lang::En, RepairsCompleted) => "Repairs completed",
        (Lang::Zh, AverageDays) => "平均天数",
        (Lang::En, AverageDays) => "Average (days)",
        (Lang::Zh, LongestDays) => "最长天数",
        (Lang::En, LongestDays) => "Longest (days)",
        (Lang::Zh, WithinDay) => "1 天内",
        (Lang::En, WithinDay) => "Within a day",
        (Lang::Zh, Within3Days) => "3 天内",
        (Lang::En, Within3Days) => "Within 3 days",
        (Lang::Zh, WithinWeek) => "7 天内",
        (Lang::En, WithinWeek) => "Within a week",
        (Lang::Zh, TopFaults) => "主要故障代码",
        (Lang::En, TopFaults) => "Top fault codes",
        (Lang::Zh, TopDefects) => "主要缺陷代码",
        (Lang::En, TopDefects) => "Top defect codes",
        (Lang::Zh, NoData) => "此期间没有数据",
        (Lang::En, NoData) => "No data for this period",
        (Lang::Zh, Unspecified) => "（未指定）",
        (Lang::En, Unspecified) => "(none)",
        (Lang::Zh, Total) => "合计",
        (Lang::En, Total) => "Total",
        (Lang::Zh, Seller) => "销售方",
        (Lang::En, Seller) => "Seller",
        (Lang::Zh, Region) => "地区",
        (Lang::En, Region) => "Region",
        (Lang::Zh, QualityHint) => {
            "一次合格率 = 首次检验即合格的单品 / 首次检验的单品；不良率 = 不合格检验 / 全部检验。供应商按单品本身及其装配零件的来料供应商统计。"
        }
        (Lang::En, QualityHint) => {
            "First-pass yield = units that passed their first inspection / units first inspected; defect rate = failed inspections / all inspections. A unit counts for the supplier it was received from and for the suppliers of every part assembled into it."
        }
        (Lang::Zh, TurnaroundHint) => "从退货收货（或本轮首次维修记录）到维修完成。",
        (Lang::En, TurnaroundHint) => {
            "From the return receipt (or the first repair record of the cycle) to completion."
        }
        (Lang::Zh, BadFilter) => "筛选条件无效",
        (Lang::En, BadFilter) => "Invalid filter",
        (Lang::Zh, Search) => "搜索",
        (Lang::En, Search) => "Search",
        (Lang::Zh, SearchLabel) => "序列号（任意扫码格式）、批次号、订单号或客户",
        (Lang::En, SearchLabel) => "Serial (any scanned form), lot, order number or customer",
        (Lang::Zh, SearchHint) => {
            "扫码枪可直接扫入；GS1 条码、数字链接和 EPC URN 会被解析。订单号需完整输入；批次号按前缀匹配；客户按代码或名称包含匹配。"
        }
        (Lang::En, SearchHint) => {
            "A scanner can scan straight in; GS1 barcodes, Digital Links and EPC URNs are read. Order numbers match exactly, lots by their beginning, parties by code or name."
        }
        (Lang::Zh, NothingFound) => "没有找到匹配项",
        (Lang::En, NothingFound) => "Nothing matches",
        (Lang::Zh, Orders) => "单据",
        (Lang::En, Orders) => "Orders",
        (Lang::Zh, OrderType) => "单据类型",
        (Lang::En, OrderType) => "Type",
        (Lang::Zh, OrderNumber) => "单据号",
        (Lang::En, OrderNumber) => "Number",
        (Lang::Zh, EventsCount) => "事件数",
        (Lang::En, EventsCount) => "Events",
        (Lang::Zh, FirstEvent) => "首个事件",
        (Lang::En, FirstEvent) => "First event",
        (Lang::Zh, LastEvent) => "最近事件",
        (Lang::En, LastEvent) => "Last event",
        (Lang::Zh, PartiesFound) => "客户与合作方",
        (Lang::En, PartiesFound) => "Customers and partners",
        (Lang::Zh, UnitsHeld) => "持有单品",
        (Lang::En, UnitsHeld) => "Units held",
        (Lang::Zh, UnitsOfOrder) => "单据涉及的单品",
        (Lang::En, UnitsOfOrder) => "Units on this order",
        (Lang::Zh, UnitsHeldBy) => "持有的单品",
        (Lang::En, UnitsHeldBy) => "Units held",
        (Lang::Zh, OrderPo) => "采购订单",
        (Lang::En, OrderPo) => "Purchase order",
        (Lang::Zh, OrderProd) => "生产工单",
        (Lang::En, OrderProd) => "Work order",
        (Lang::Zh, OrderSo) => "销售订单",
        (Lang::En, OrderSo) => "Sales order",
        (Lang::Zh, OrderRma) => "退货单",
        (Lang::En, OrderRma) => "Return (RMA)",
        (Lang::Zh, OrderRo) => "维修单",
        (Lang::En, OrderRo) => "Repair order",
        (Lang::Zh, OnHold) => "冻结",
        (Lang::En, OnHold) => "On hold",
        (Lang::Zh, ProductFound) => "产品",
        (Lang::En, ProductFound) => "Product",
        (Lang::Zh, Admin) => "系统管理",
        (Lang::En, Admin) => "Admin",
        (Lang::Zh, Products) => "产品",
        (Lang::En, Products) => "Products",
        (Lang::Zh, SerialRules) => "序列号规则",
        (Lang::En, SerialRules) => "Serial rules",
        (Lang::Zh, RuleTemplate) => "模板",
        (Lang::En, RuleTemplate) => "Template",
        (Lang::Zh, SequenceReset) => "流水号归零",
        (Lang::En, SequenceReset) => "Sequence reset",
        (Lang::Zh, SequenceStart) => "流水号起始值",
        (Lang::En, SequenceStart) => "Sequence start",
        (Lang::Zh, Uniqueness) => "唯一范围",
        (Lang::En, Uniqueness) => "Unique within",
        (Lang::Zh, RuleCategories) => "适用产品类别",
        (Lang::En, RuleCategories) => "Product categories",
        (Lang::Zh, RulePreview) => "预览接下来的序列号",
        (Lang::En, RulePreview) => "Preview of the next serials",
        (Lang::Zh, RulePreviewHint) => {
            "随输入即时生成（不占用号段）。{YYMMDD} 日期、{LINE} 产线、{SEQ:5} 五位流水号、{CHECK:mod37-36} 校验位。"
        }
        (Lang::En, RulePreviewHint) => {
            "Drawn as you type (no serial is reserved). {YYMMDD} date, {LINE} line, {SEQ:5} five-digit sequence, {CHECK:mod37-36} check character."
        }
        (Lang::Zh, SampleProduct) => "示例产品",
        (Lang::En, SampleProduct) => "Sample product",
        (Lang::Zh, SampleLine) => "示例产线",
        (Lang::En, SampleLine) => "Sample line",
        (Lang::Zh, Parties) => "合作方",
        (Lang::En, Parties) => "Parties",
        (Lang::Zh, Locations) => "位置",
        (Lang::En, Locations) => "Locations",
        (Lang::Zh, Code) => "代码",
        (Lang::En, Code) => "Code",
        (Lang::Zh, Tracking) => "追溯方式",
        (Lang::En, Tracking) => "Tracking",
        (Lang::Zh, Gtin) => "GTIN",
        (Lang::En, Gtin) => "GTIN",
        (Lang::Zh, Uom) => "计量单位",
        (Lang::En, Uom) => "Unit of measure",
        (Lang::Zh, Category) => "类别",
        (Lang::En, Category) => "Category",
        (Lang::Zh, WarrantyMonths) => "保修（月）",
        (Lang::En, WarrantyMonths) => "Warranty (months)",
        (Lang::Zh, Attributes) => "自定义属性",
        (Lang::En, Attributes) => "Custom attributes",
        (Lang::Zh, AttrName) => "属性名",
        (Lang::En, AttrName) => "Name",
        (Lang::Zh, AttrType) => "类型",
        (Lang::En, AttrType) => "Type",
        (Lang::Zh, AttrRequired) => "必填",
        (Lang::En, AttrRequired) => "Required",
        (Lang::Zh, AttrOptions) => "可选值（逗号分隔）",
        (Lang::En, AttrOptions) => "Options (comma-separated)",
        (Lang::Zh, AttributesHint) => "生产赋码时按这些属性校验；留空的行会被忽略。",
        (Lang::En, AttributesHint) => {
            "Commissioning checks units against these attributes; empty rows are ignored."
        }
        (Lang::Zh, NewRecord) => "新建",
        (Lang::En, NewRecord) => "New",
        (Lang::Zh, EditRecord) => "编辑",
        (Lang::En, EditRecord) => "Edit",
        (Lang::Zh, Save) => "保存",
        (Lang::En, Save) => "Save",
        (Lang::Zh, SavedRecord) => "已保存",
        (Lang::En, SavedRecord) => "Saved",
        (Lang::Zh, Labels) => "标签",
        (Lang::En, Labels) => "Labels",
        (Lang::Zh, LabelTemplates) => "标签模板",
        (Lang::En, LabelTemplates) => "Label templates",
        (Lang::Zh, LabelsIntro) => {
            "为产品分配一批新序列号并打印其标签（PDF 或 ZPL），或补打某个序列号的标签。每次打印和补打都记入台账。"
        }
        (Lang::En, LabelsIntro) => {
            "Allocate a block of new serials for a product and print their labels (PDF or ZPL), or reprint one serial's label. Every print and reprint is recorded in the ledger."
        }
        (Lang::Zh, AllocateSerials) => "分配序列号",
        (Lang::En, AllocateSerials) => "Allocate serials",
        (Lang::Zh, AllocateHint) => {
            "按产品的序列号规则生成新序列号，之后即可打印（每个打印任务最多 10,000 张标签）。"
        }
        (Lang::En, AllocateHint) => {
            "New serials from the product's serial rule, ready to print (a print job takes up to 10,000 labels)."
        }
        (Lang::Zh, AllocateButton) => "分配",
        (Lang::En, AllocateButton) => "Allocate",
        (Lang::Zh, AllocatedBlock) => "已分配",
        (Lang::En, AllocatedBlock) => "Allocated",
        (Lang::Zh, PrintLabels) => "打印标签",
        (Lang::En, PrintLabels) => "Print labels",
        (Lang::Zh, AllocationId) => "分配批次（事件编号）",
        (Lang::En, AllocationId) => "Allocation (event id)",
        (Lang::Zh, LabelTemplate) => "标签模板",
        (Lang::En, LabelTemplate) => "Label template",
        (Lang::Zh, LabelOutput) => "输出",
        (Lang::En, LabelOutput) => "Output",
        (Lang::Zh, OutputPdfRoll) => "PDF · 卷标（每页一张）",
        (Lang::En, OutputPdfRoll) => "PDF · roll (one label a page)",
        (Lang::Zh, OutputPdfA4) => "PDF · A4 整页排版",
        (Lang::En, OutputPdfA4) => "PDF · A4 sheets",
        (Lang::Zh, OutputZpl) => "ZPL · 斑马热敏打印机",
        (Lang::En, OutputZpl) => "ZPL · Zebra thermal printer",
        (Lang::Zh, NetworkPrinter) => "网络打印机（主机:端口，可不填）",
        (Lang::En, NetworkPrinter) => "Network printer (host:port, optional)",
        (Lang::Zh, PrintHint) => {
            "填写网络打印机时，以 ZPL 经 TCP 9100 直接发送到打印机；不填则下载文件。首次打印记为已打印，再次打印记为补打。"
        }
        (Lang::En, PrintHint) => {
            "With a network printer, ZPL is sent to it over TCP (port 9100); without one the file is downloaded. A first print marks the serials printed; printing them again is recorded as a reprint."
        }
        (Lang::Zh, PrintButton) => "打印",
        (Lang::En, PrintButton) => "Print",
        (Lang::Zh, SentToPrinter) => "已发送到打印机",
        (Lang::En, SentToPrinter) => "Sent to printer",
        (Lang::Zh, ReprintLabel) => "补打标签",
        (Lang::En, ReprintLabel) => "Reprint a label",
        (Lang::Zh, ReprintHint) => {
            "补打记录为事件：谁、补打了哪个序列号、何时。补打是假冒标签的源头之一，请谨慎使用。"
        }
        (Lang::En, ReprintHint) => {
            "A reprint is recorded as an event: who reprinted which serial, and when. Reprints are how counterfeit labels start: use them with care."
        }
        (Lang::Zh, ReprintButton) => "补打",
        (Lang::En, ReprintButton) => "Reprint",
        (Lang::Zh, NoLabelTemplates) => "还没有标签模板：请先在“管理 › 标签模板”中创建。",
        (Lang::En, NoLabelTemplates) => {
            "No label template yet: create one under Admin › Label templates."
        }
        (Lang::Zh, TemplateName) => "模板名称",
        (Lang::En, TemplateName) => "Template name",
        (Lang::Zh, TemplateDefinition) => "模板定义（JSON）",
        (Lang::En, TemplateDefinition) => "Definition (JSON)",
        (Lang::Zh, TemplateHint) => {
            "尺寸以毫米计（width_mm、height_mm），dpi 为打印机分辨率；fields 为文字（text）、条码（barcode：qr、gs1_qr、digital_link_qr、data_matrix、gs1_datamatrix、code128、gs1_128、ean13、upc_a）和徽标（logo，base64 PNG）。占位符：{serial} {product} {product_name} {gtin} {lot} {expiry:%Y-%m-%d} {production_date} {attr.属性名}。GS1 条码下默认印出人工可读内容。"
        }
        (Lang::En, TemplateHint) => {
            "Sizes in millimetres (width_mm, height_mm), dpi the printer's resolution; fields are text, barcode (qr, gs1_qr, digital_link_qr, data_matrix, gs1_datamatrix, code128, gs1_128, ean13, upc_a) and logo (a base64 PNG). Placeholders: {serial} {product} {product_name} {gtin} {lot} {expiry:%Y-%m-%d} {production_date} {attr.NAME}. GS1 barcodes print their human-readable interpretation under them by default."
        }
        (Lang::Zh, PreviewValues) => "预览数据",
        (Lang::En, PreviewValues) => "Preview values",
        (Lang::Zh, LabelSize) => "尺寸",
        (Lang::En, LabelSize) => "Size",
        (Lang::Zh, LabelFields) => "字段",
        (Lang::En, LabelFields) => "Fields",
        (Lang::Zh, UpdatedBy) => "修改人",
        (Lang::En, UpdatedBy) => "Updated by",
        (Lang::Zh, Version) => "版本",
        (Lang::En, Version) => "Version",
        (Lang::Zh, RegionsList) => "区域（逗号分隔）",
        (Lang::En, RegionsList) => "Regions (comma-separated)",
        (Lang::Zh, ContactPerson) => "联系人",
        (Lang::En, ContactPerson) => "Contact person",
        (Lang::Zh, Phone) => "电话",
        (Lang::En, Phone) => "Phone",
        (Lang::Zh, Email) => "邮箱",
        (Lang::En, Email) => "Email",
        (Lang::Zh, Address) => "地址",
        (Lang::En, Address) => "Address",
        (Lang::Zh, ParentParty) => "上级单位",
        (Lang::En, ParentParty) => "Parent party",
        (Lang::Zh, ParentLocation) => "上级位置",
        (Lang::En, ParentLocation) => "Parent location",
        (Lang::Zh, DistributorParty) => "所属经销商",
        (Lang::En, DistributorParty) => "Distributor",
        (Lang::Zh, DistributorPartyHint) => {
            "仅用于“经销商”角色的账号：只能看到发往该经销商及其下级的货物。"
        }
        (Lang::En, DistributorPartyHint) => {
            "For distributor accounts only: they see just the goods shipped to that distributor and those under it."
        }
        (Lang::Zh, OwnerParty) => "所属单位",
        (Lang::En, OwnerParty) => "Party",
        (Lang::Zh, RegionOfLocation) => "地区",
        (Lang::En, RegionOfLocation) => "Region",
        (Lang::Zh, FixErrors) => "未保存，请修改以下问题：",
        (Lang::En, FixErrors) => "Not saved. Please fix:",
        (Lang::Zh, Users) => "用户",
        (Lang::En, Users) => "Users",
        (Lang::Zh, Roles) => "角色",
        (Lang::En, Roles) => "Roles",
        (Lang::Zh, Tokens) => "API 令牌",
        (Lang::En, Tokens) => "API tokens",
        (Lang::Zh, CustomRoles) => "自定义角色",
        (Lang::En, CustomRoles) => "Custom roles",
        (Lang::Zh, CustomRolesHint) => {
            "按本厂的岗位把权限组合成角色，与内置角色一样分配给用户和 API 令牌。修改角色的权限后，持有它的用户和令牌从下一次请求起按新权限执行。账号绑定的厂区照样限定它的范围；自定义角色不会让账号成为经销商账号。"
        }
        (Lang::En, CustomRolesHint) => {
            "Your plant's own jobs as sets of permissions, given to users and API tokens like the shipped roles. A change to a role holds from the next request of every user and token that holds it. An account's site still bounds what it does; a custom role never makes an account a distributor's."
        }
        (Lang::Zh, NoCustomRoles) => "还没有自定义角色。",
        (Lang::En, NoCustomRoles) => "No custom roles yet.",
        (Lang::Zh, ShippedRoles) => "内置角色",
        (Lang::En, ShippedRoles) => "Shipped roles",
        (Lang::Zh, ShippedRolesHint) => {
            "内置角色的权限固定，不能修改或删除。点“复制”可以它为起点新建一个角色。"
        }
        (Lang::En, ShippedRolesHint) => {
            "The shipped roles are fixed: they cannot be changed or deleted. Copy one as the starting point of a custom role."
        }
        (Lang::Zh, NewRole) => "新建角色",
        (Lang::En, NewRole) => "New role",
        (Lang::Zh, RoleName) => "角色代码",
        (Lang::En, RoleName) => "Role name",
        (Lang::Zh, RoleNameHint) => {
            "以小写字母开头，只用小写字母、数字、- 和 _，最多 32 个字符，不能与内置角色同名；创建后不能修改。"
        }
        (Lang::En, RoleNameHint) => {
            "A lowercase letter, then lowercase letters, digits, - and _; at most 32 characters; not a shipped role's name. It cannot be changed later."
        }
        (Lang::Zh, RoleLabel) => "显示名称",
        (Lang::En, RoleLabel) => "Label",
        (Lang::Zh, Permissions) => "权限",
        (Lang::En, Permissions) => "Permissions",
        (Lang::Zh, HeldBy) => "持有者",
        (Lang::En, HeldBy) => "Held by",
        (Lang::Zh, CopyRole) => "复制",
        (Lang::En, CopyRole) => "Copy",
        (Lang::Zh, DeleteRole) => "删除",
        (Lang::En, DeleteRole) => "Delete",
        (Lang::Zh, NotFoundPage) => "页面不存在",
        (Lang::En, NotFoundPage) => "Page not found",
        (Lang::Zh, CloseRecall) => "召回结案",
        (Lang::En, CloseRecall) => "Close the recall",
        (Lang::Zh, CloseNote) => "结案说明",
        (Lang::En, CloseNote) => "Closing note",
        (Lang::Zh, Signature) => "电子签名",
        (Lang::En, Signature) => "Electronic signature",
        (Lang::Zh, SignatureHint) => "本厂要求召回结案须电子签名：签名人、再次输入密码、签名含义。",
        (Lang::En, SignatureHint) => {
            "This plant requires an electronic signature to close a recall: the signer, the password again, and what the signature means."
        }
        (Lang::Zh, SignatureMeaning) => "签名含义",
        (Lang::En, SignatureMeaning) => "Meaning",
        (Lang::Zh, ClosureApproved) => "批准结案",
        (Lang::En, ClosureApproved) => "closure approved",
        (Lang::Zh, CloseHint) => "关闭后召回冻结仍保留，由后续处置（报废、维修、退回）逐一解除。",
        (Lang::En, CloseHint) => {
            "Closing keeps the recall holds; each unit leaves them through its disposition (scrap, repair, return)."
        }
        (Lang::Zh, NarrowRecall) => "缩小召回范围",
        (Lang::En, NarrowRecall) => "Narrow the scope",
        (Lang::Zh, NarrowHint) => {
            "只保留下面范围同样涉及的单元和批次。移出的单元单独列出，其召回冻结随即解除（仍在另一未结案召回中的除外）；每次缩小都会记录原因和操作人。"
        }
        (Lang::En, NarrowHint) => {
            "Keep only the units and lots this scope also reaches. What leaves is listed apart and its recall holds are released (unless another open recall covers it); each narrowing is recorded with who and why."
        }
        (Lang::Zh, Narrowings) => "范围缩小记录",
        (Lang::En, Narrowings) => "Narrowings",
        (Lang::Zh, RemovedFromRecall) => "已移出召回",
        (Lang::En, RemovedFromRecall) => "Removed from the recall",
        (Lang::Zh, HoldsReleased) => "解除冻结",
        (Lang::En, HoldsReleased) => "Holds released",
        (Lang::Zh, NewUser) => "新建用户",
        (Lang::En, NewUser) => "New user",
        (Lang::Zh, NewToken) => "新建 API 令牌",
        (Lang::En, NewToken) => "New API token",
        (Lang::Zh, SetRoles) => "保存角色",
        (Lang::En, SetRoles) => "Save roles",
        (Lang::Zh, LockUser) => "停用",
        (Lang::En, LockUser) => "Lock",
        (Lang::Zh, UnlockUser) => "启用",
        (Lang::En, UnlockUser) => "Unlock",
        (Lang::Zh, Revoke) => "吊销",
        (Lang::En, Revoke) => "Revoke",
        (Lang::Zh, Created) => "创建时间",
        (Lang::En, Created) => "Created",
        (Lang::Zh, CreatedBy) => "创建人",
        (Lang::En, CreatedBy) => "Created by",
        (Lang::Zh, LastUsed) => "最近使用",
        (Lang::En, LastUsed) => "Last used",
        (Lang::Zh, Revoked) => "已吊销",
        (Lang::En, Revoked) => "Revoked",
        (Lang::Zh, Active) => "正常",
        (Lang::En, Active) => "Active",
        (Lang::Zh, Disabled) => "已停用",
        (Lang::En, Disabled) => "Locked",
        (Lang::Zh, TokenSecret) => "令牌密钥（只显示这一次，请立即保存）",
        (Lang::En, TokenSecret) => "Token secret (shown this once; store it now)",
        (Lang::Zh, Webhooks) => "Webhook 推送",
        (Lang::En, Webhooks) => "Webhooks",
        (Lang::Zh, WebhooksIntro) => {
            "把追溯事件推送给 ERP、MES 或钉钉/企业微信群机器人。每次推送都带签名，失败按指数退避重试，多次失败后进入死信，可在下方推送记录中重新推送。"
        }
        (Lang::En, WebhooksIntro) => {
            "Push traceability events to an ERP, a MES or a DingTalk/WeCom group robot. Every delivery is signed, retried with exponential back-off, and dead-lettered after repeated failures; redeliver it from the delivery log below."
        }
        (Lang::Zh, NewWebhook) => "新建订阅",
        (Lang::En, NewWebhook) => "New subscription",
        (Lang::Zh, NoWebhooks) => "还没有订阅。",
        (Lang::En, NoWebhooks) => "No subscriptions yet.",
        (Lang::Zh, WebhookUrl) => "接收地址",
        (Lang::En, WebhookUrl) => "URL",
        (Lang::Zh, WebhookFormat) => "格式",
        (Lang::En, WebhookFormat) => "Format",
        (Lang::Zh, WebhookFilter) => "推送条件",
        (Lang::En, WebhookFilter) => "Filter",
        (Lang::Zh, WebhookPaused) => "已停用",
        (Lang::En, WebhookPaused) => "Disabled",
        (Lang::Zh, WebhookSecret) => "密钥",
        (Lang::En, WebhookSecret) => "Secret",
        (Lang::Zh, WebhookSecretHint) => {
            "JSON：留空则自动生成签名密钥（只显示一次）；钉钉：机器人的加签密钥 SEC…；企业微信不需要。"
        }
        (Lang::En, WebhookSecretHint) => {
            "JSON: leave empty to have a signing secret made (shown once); DingTalk: the robot's signing secret SEC…; WeCom needs none."
        }
        (Lang::Zh, WebhookSecretShown) => "签名密钥（只显示这一次，请立即保存）",
        (Lang::En, WebhookSecretShown) => "Signing secret (shown this once; store it now)",
        (Lang::Zh, WebhookTopics) => "主题",
        (Lang::En, WebhookTopics) => "Topics",
        (Lang::Zh, WebhookTopicsHint) => "都不选则推送全部事件。",
        (Lang::En, WebhookTopicsHint) => "Tick none to receive every event.",
        (Lang::Zh, WebhookListHint) => {
            "产品、地点和业务步骤用逗号分隔；地点包含其下级地点；留空表示不限。"
        }
        (Lang::En, WebhookListHint) => {
            "Products, locations and business steps separated by commas; a location includes everything under it; empty means any."
        }
        (Lang::Zh, FilterProducts) => "产品",
        (Lang::En, FilterProducts) => "Products",
        (Lang::Zh, FilterLocations) => "地点",
        (Lang::En, FilterLocations) => "Locations",
        (Lang::Zh, FilterSteps) => "业务步骤",
        (Lang::En, FilterSteps) => "Business steps",
        (Lang::Zh, MessageLanguage) => "消息语言",
        (Lang::En, MessageLanguage) => "Message language",
        (Lang::Zh, EveryEvent) => "全部事件",
        (Lang::En, EveryEvent) => "Every event",
        (Lang::Zh, DisableWebhook) => "停用",
        (Lang::En, DisableWebhook) => "Disable",
        (Lang::Zh, EnableWebhook) => "启用",
        (Lang::En, EnableWebhook) => "Enable",
        (Lang::Zh, Updated) => "最近修改",
        (Lang::En, Updated) => "Last changed",
        (Lang::Zh, DeliveryLog) => "推送记录",
        (Lang::En, DeliveryLog) => "Delivery log",
        (Lang::Zh, DeliveryLogHint) => {
            "最新的在前，最多 100 条。死信不会自动重试，修好接收方后点“重新推送”。"
        }
        (Lang::En, DeliveryLogHint) => {
            "Newest first, at most 100. A dead delivery is not retried by itself: fix the receiver, then redeliver."
        }
        (Lang::Zh, DeliverySubject) => "内容",
        (Lang::En, DeliverySubject) => "Subject",
        (Lang::Zh, PickWebhook) => "点击订阅名称查看其推送记录。",
        (Lang::En, PickWebhook) => "Pick a subscription's name to see its deliveries.",
        (Lang::Zh, NoDeliveries) => "没有推送记录。",
        (Lang::En, NoDeliveries) => "No deliveries.",
        (Lang::Zh, AllStatuses) => "全部",
        (Lang::En, AllStatuses) => "All",
        (Lang::Zh, Attempts) => "尝试次数",
        (Lang::En, Attempts) => "Attempts",
        (Lang::Zh, LastAttempt) => "最近尝试",
        (Lang::En, LastAttempt) => "Last attempt",
        (Lang::Zh, LastHttpStatus) => "HTTP 状态",
        (Lang::En, LastHttpStatus) => "HTTP status",
        (Lang::Zh, LastError) => "最近错误",
        (Lang::En, LastError) => "Last error",
        (Lang::Zh, Redeliver) => "重新推送",
        (Lang::En, Redeliver) => "Redeliver",
        (Lang::Zh, LedgerEvent) => "事件",
        (Lang::En, LedgerEvent) => "Event",
        (Lang::Zh, AuthenticityCheck) => "防伪查询",
        (Lang::En, AuthenticityCheck) => "Authenticity check",
    }
}

/// A permission, for people (the role pages).
pub fn permission(lang: Lang, p: threadline_domain::access::Permission) -> &'static str {
    use threadline_domain::access::Permission::*;
    match (lang, p) {
        (Lang::Zh, Receive) => "收货",
        (Lang::En, Receive) => "Receive",
        (Lang::Zh, Commission) => "赋码与批次转换",
        (Lang::En, Commission) => "Commission",
        (Lang::Zh, Assemble) => "装配绑定与装箱",
        (Lang::En, Assemble) => "Assemble and pack",
        (Lang::Zh, Inspect) => "质检",
        (Lang::En, Inspect) => "Inspect",
        (Lang::Zh, Move) => "上架、移库与调拨",
        (Lang::En, Move) => "Move",
        (Lang::Zh, Ship) => "发货与销售",
        (Lang::En, Ship) => "Ship and sell",
        (Lang::Zh, Return) => "退货",
        (Lang::En, Return) => "Returns",
        (Lang::Zh, Repair) => "维修",
        (Lang::En, Repair) => "Repair",
        (Lang::Zh, Scrap) => "报废",
        (Lang::En, Scrap) => "Scrap",
        (Lang::Zh, Correct) => "更正记录",
        (Lang::En, Correct) => "Correct",
        (Lang::Zh, Hold) => "冻结与解冻",
        (Lang::En, Hold) => "Hold and release",
        (Lang::Zh, Recall) => "召回",
        (Lang::En, Recall) => "Recall",
        (Lang::Zh, Configure) => "主数据与规则配置",
        (Lang::En, Configure) => "Configure",
        (Lang::Zh, ManageUsers) => "用户、令牌与角色管理",
        (Lang::En, ManageUsers) => "Manage users and roles",
        (Lang::Zh, Read) => "查询",
        (Lang::En, Read) => "Read",
        (Lang::Zh, ReadAudit) => "审计与账本校验",
        (Lang::En, ReadAudit) => "Read the audit trail",
        (Lang::Zh, ReadCustomerData) => "查看客户信息",
        (Lang::En, ReadCustomerData) => "See customer data",
        (Lang::Zh, ReadPrices) => "查看价格",
        (Lang::En, ReadPrices) => "See prices",
    }
}

/// A webhook topic, for people.
pub fn topic(lang: Lang, t: threadline_store::webhook::Topic) -> &'static str {
    use threadline_store::webhook::Topic::*;
    match (lang, t) {
        (Lang::Zh, Event) => "全部事件",
        (Lang::En, Event) => "Every event",
        (Lang::Zh, Hold) => "冻结",
        (Lang::En, Hold) => "Hold placed",
        (Lang::Zh, Release) => "解除冻结",
        (Lang::En, Release) => "Hold released",
        (Lang::Zh, Recall) => "召回冻结",
        (Lang::En, Recall) => "Recall hold",
        (Lang::Zh, QcFailed) => "质检不合格",
        (Lang::En, QcFailed) => "QC failure",
        (Lang::Zh, Diversion) => "窜货",
        (Lang::En, Diversion) => "Diversion",
        (Lang::Zh, SuspiciousCheck) => "可疑防伪查询",
        (Lang::En, SuspiciousCheck) => "Suspicious authenticity check",
        (Lang::Zh, PastHold) => "伙伴事件越过冻结",
        (Lang::En, PastHold) => "Partner's event past a hold",
    }
}

/// Where a webhook delivery stands, for people.
pub fn delivery_status(lang: Lang, s: threadline_store::webhook::DeliveryStatus) -> &'static str {
    use threadline_store::webhook::DeliveryStatus::*;
    match (lang, s) {
        (Lang::Zh, Pending) => "待发送",
        (Lang::En, Pending) => "Pending",
        (Lang::Zh, Delivered) => "已送达",
        (Lang::En, Delivered) => "Delivered",
        (Lang::Zh, Dead) => "死信",
        (Lang::En, Dead) => "Dead letter",
    }
}

/// A webhook's message format, for people.
pub fn webhook_format(lang: Lang, f: threadline_store::webhook::WebhookFormat) -> &'static str {
    use threadline_store::webhook::WebhookFormat::*;
    match (lang, f) {
        (Lang::Zh, Json) => "JSON（HMAC 签名）",
        (Lang::En, Json) => "JSON (HMAC-signed)",
        (Lang::Zh, Dingtalk) => "钉钉群机器人",
        (Lang::En, Dingtalk) => "DingTalk robot",
        (Lang::Zh, Wecom) => "企业微信群机器人",
        (Lang::En, Wecom) => "WeCom robot",
        (Lang::Zh, Epcis) => "EPCIS 订阅（查询文档，HMAC 签名）",
        (Lang::En, Epcis) => "EPCIS subscription (query document, HMAC-signed)",
        (Lang::Zh, EpcisXml) => "EPCIS 订阅（XML 查询文档，HMAC 签名）",
        (Lang::En, EpcisXml) => "EPCIS subscription (XML query document, HMAC-signed)",
    }
}

/// The display name of a unit status.
pub fn status(lang: Lang, s: threadline_domain::projection::ItemStatus) -> &'static str {
    use threadline_domain::projection::ItemStatus::*;
    match (lang, s) {
        (Lang::Zh, Unassigned) => "未赋码",
        (Lang::En, Unassigned) => "Unassigned",
        (Lang::Zh, Printed) => "已打印",
        (Lang::En, Printed) => "Label printed",
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

/// The CBV business steps that are an operation of the process definition: a page names
/// them by the operation, so a step reads the same on the scan station, the process rules, the
/// passport, the trace and the dashboards.
const STEP_OPERATIONS: [(&str, threadline_domain::process::Operation); 14] = {
    use threadline_domain::process::Operation::*;
    [
        ("receiving", Receive),
        ("commissioning", Commission),
        ("assembling", Assemble),
        ("disassembling", Disassemble),
        ("creating_class_instance", Transform),
        ("transforming", Transform),
        ("inspecting", Inspect),
        ("storing", Store),
        ("shipping", Ship),
        ("retail_selling", Sell),
        ("returning", Return),
        ("repairing", Repair),
        ("destroying", Scrap),
        ("holding", Hold),
    ]
};

/// The display name of a CBV business step: its operation's name (see [`operation`]), or its
/// own for the steps that are not one; a step without a translation shows as it is.
pub fn step(lang: Lang, step: &str) -> &str {
    if let Some((_, op)) = STEP_OPERATIONS.iter().find(|(s, _)| *s == step) {
        return operation(lang, *op);
    }
    match (lang, step) {
        (Lang::Zh, "packing") => "装箱",
        (Lang::En, "packing") => "Packing",
        (Lang::Zh, "unpacking") => "拆箱",
        (Lang::En, "unpacking") => "Unpacking",
        (Lang::Zh, "replacing") => "换件",
        (Lang::En, "replacing") => "Part replacement",
        (Lang::Zh, "removing") => "拆卸",
        (Lang::En, "removing") => "Part removal",
        (Lang::Zh, "encoding") => "赋码/补打标签",
        (Lang::En, "encoding") => "Label encoding",
        (Lang::Zh, "accepting") => "验收",
        (Lang::En, "accepting") => "Acceptance",
        _ => step,
    }
}

/// The label of an event field a person reads on the passport; `None` for the fields the page
/// does not show (customer details among them).
pub fn field_label(lang: Lang, key: &str) -> Option<&'static str> {
    match (lang, key) {
        (Lang::Zh, "reason") => Some("原因"),
        (Lang::En, "reason") => Some("Reason"),
        (Lang::Zh, "result") => Some("结果"),
        (Lang::En, "result") => Some("Result"),
        (Lang::Zh, "defect_codes") => Some("缺陷代码"),
        (Lang::En, "defect_codes") => Some("Defect codes"),
        (Lang::Zh, "inspector") => Some("检验员"),
        (Lang::En, "inspector") => Some("Inspector"),
        (Lang::Zh, "equipment") => Some("设备"),
        (Lang::En, "equipment") => Some("Equipment"),
        (Lang::Zh, "fault") => Some("故障"),
        (Lang::En, "fault") => Some("Fault"),
        (Lang::Zh, "fault_code") => Some("故障代码"),
        (Lang::En, "fault_code") => Some("Fault code"),
        (Lang::Zh, "engineer") => Some("工程师"),
        (Lang::En, "engineer") => Some("Engineer"),
        (Lang::Zh, "condition") => Some("状况"),
        (Lang::En, "condition") => Some("Condition"),
        (Lang::Zh, "outcome") => Some("处理方式"),
        (Lang::En, "outcome") => Some("Outcome"),
        (Lang::Zh, "note") => Some("备注"),
        (Lang::En, "note") => Some("Note"),
        (Lang::Zh, "operator") => Some("操作员"),
        (Lang::En, "operator") => Some("Operator"),
        (Lang::Zh, "station") => Some("工位"),
        (Lang::En, "station") => Some("Station"),
        (Lang::Zh, "revision") => Some("版本"),
        (Lang::En, "revision") => Some("Revision"),
        (Lang::Zh, "ship_to_address") => Some("收货地址"),
        (Lang::En, "ship_to_address") => Some("Ship-to address"),
        (Lang::Zh, "price") => Some("单价"),
        (Lang::En, "price") => Some("Price"),
        (Lang::Zh, "carrier") => Some("承运商"),
        (Lang::En, "carrier") => Some("Carrier"),
        (Lang::Zh, "tracking_number") => Some("运单号"),
        (Lang::En, "tracking_number") => Some("Tracking number"),
        (Lang::Zh, "recall") => Some("召回单"),
        (Lang::En, "recall") => Some("Recall"),
        (Lang::Zh, "decision") => Some("处置决定"),
        (Lang::En, "decision") => Some("Decision"),
        (Lang::Zh, "approved_by") => Some("批准人"),
        (Lang::En, "approved_by") => Some("Approved by"),
        (Lang::Zh, "work_order") => Some("工单"),
        (Lang::En, "work_order") => Some("Work order"),
        (Lang::Zh, "transfer_order") => Some("调拨单"),
        (Lang::En, "transfer_order") => Some("Transfer order"),
        (Lang::Zh, "ship_to_region") => Some("收货地区"),
        (Lang::En, "ship_to_region") => Some("Ship-to region"),
        (Lang::Zh, "parts_replaced") => Some("更换零件"),
        (Lang::En, "parts_replaced") => Some("Parts replaced"),
        _ => None,
    }
}

/// The display name of an inspection result.
pub fn qc_result(lang: Lang, result: &str) -> &str {
    match (lang, result) {
        (Lang::Zh, "pass") => "合格",
        (Lang::En, "pass") => "Pass",
        (Lang::Zh, "fail") => "不合格",
        (Lang::En, "fail") => "Fail",
        (Lang::Zh, "conditional") => "让步接收",
        (Lang::En, "conditional") => "Conditional",
        _ => result,
    }
}

/// Words of the team-chat alerts webhooks send (DingTalk, WeCom).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    RecallHold,
    QcFailed,
    PastHold,
    Diversion,
    Seller,
    Region,
    HoldPlaced,
    HoldReleased,
    EventRecorded,
    Step,
    Recall,
    Location,
    Units,
    Reason,
    Who,
    When,
    Event,
    SuspiciousCheck,
    Verdict,
    Channel,
    Code,
    Check,
}

pub fn alert(lang: Lang, a: Alert) -> &'static str {
    use Alert::*;
    match (lang, a) {
        (Lang::Zh, RecallHold) => "召回冻结",
        (Lang::En, RecallHold) => "Recall hold",
        (Lang::Zh, QcFailed) => "质检不合格",
        (Lang::En, QcFailed) => "QC failure",
        (Lang::Zh, PastHold) => "伙伴上报的事件越过了冻结",
        (Lang::En, PastHold) => "A partner's event moved units on hold",
        (Lang::Zh, Diversion) => "窜货：超出授权区域销售",
        (Lang::En, Diversion) => "Diversion: sold outside the authorised regions",
        (Lang::Zh, Seller) => "销售方",
        (Lang::En, Seller) => "Seller",
        (Lang::Zh, Region) => "区域",
        (Lang::En, Region) => "Region",
        (Lang::Zh, HoldPlaced) => "冻结",
        (Lang::En, HoldPlaced) => "Hold placed",
        (Lang::Zh, HoldReleased) => "解除冻结",
        (Lang::En, HoldReleased) => "Hold released",
        (Lang::Zh, EventRecorded) => "追溯事件",
        (Lang::En, EventRecorded) => "Traceability event",
        (Lang::Zh, Step) => "业务步骤",
        (Lang::En, Step) => "Step",
        (Lang::Zh, Recall) => "召回单",
        (Lang::En, Recall) => "Recall",
        (Lang::Zh, Location) => "地点",
        (Lang::En, Location) => "Location",
        (Lang::Zh, Units) => "涉及",
        (Lang::En, Units) => "Affected",
        (Lang::Zh, Reason) => "原因",
        (Lang::En, Reason) => "Reason",
        (Lang::Zh, Who) => "操作人",
        (Lang::En, Who) => "By",
        (Lang::Zh, When) => "时间",
        (Lang::En, When) => "When",
        (Lang::Zh, Event) => "事件",
        (Lang::En, Event) => "Event",
        (Lang::Zh, SuspiciousCheck) => "防伪告警：可疑查询",
        (Lang::En, SuspiciousCheck) => "Authenticity alert: suspicious check",
        (Lang::Zh, Verdict) => "结论",
        (Lang::En, Verdict) => "Verdict",
        (Lang::Zh, Channel) => "查询渠道",
        (Lang::En, Channel) => "Channel",
        (Lang::Zh, Code) => "扫描内容",
        (Lang::En, Code) => "Code scanned",
        (Lang::Zh, Check) => "查询记录",
        (Lang::En, Check) => "Check",
    }
}

/// An authenticity verdict or one of its reasons, for people.
pub fn check_word(lang: Lang, code: &str) -> String {
    let word = match (lang, code) {
        (Lang::Zh, "genuine") => "正品",
        (Lang::En, "genuine") => "Genuine",
        (Lang::Zh, "suspicious") => "可疑",
        (Lang::En, "suspicious") => "Suspicious",
        (Lang::Zh, "unknown") => "未发放的码",
        (Lang::En, "unknown") => "Never issued",
        (Lang::Zh, "not_ours") => "非本公司码",
        (Lang::En, "not_ours") => "Not ours",
        (Lang::Zh, "not_released") => "未放行销售",
        (Lang::En, "not_released") => "never released",
        (Lang::Zh, "scrapped") => "已报废",
        (Lang::En, "scrapped") => "scrapped",
        (Lang::Zh, "in_our_hands") => "仍在本公司",
        (Lang::En, "in_our_hands") => "still in our hands",
        (Lang::Zh, "checked_often") => "验证次数过多",
        (Lang::En, "checked_often") => "checked too often",
        (Lang::Zh, "two_regions") => "多地验证",
        (Lang::En, "two_regions") => "checked in two regions",
        (Lang::Zh, "outside_region") => "超出授权区域",
        (Lang::En, "outside_region") => "outside the authorised regions",
        _ => return code.to_owned(),
    };
    word.to_owned()
}

/// An integer with thousands separators (`12,345` in both languages).
pub fn int(_lang: Lang, n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number with `places` decimals and thousands separators.
pub fn decimal(lang: Lang, v: f64, places: usize) -> String {
    let s = format!("{:.*}", places, v.abs());
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    let whole: i64 = whole.parse().unwrap_or(0);
    let sign = if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{}", int(lang, whole))
    } else {
        format!("{sign}{}.{frac}", int(lang, whole))
    }
}

/// `num / den` as a percentage with one decimal (`66.7%`); a dash when `den` is zero.
pub fn pct(lang: Lang, num: i64, den: i64) -> String {
    if den == 0 {
        return "—".to_owned();
    }
    format!("{}%", decimal(lang, num as f64 * 100.0 / den as f64, 1))
}

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month_en(d: chrono::NaiveDate) -> &'static str {
    use chrono::Datelike;
    MONTHS_EN[d.month0() as usize % 12]
}

/// A date: `2026年5月26日`, `26 May 2026`.
pub fn date(lang: Lang, d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    match lang {
        Lang::Zh => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
        Lang::En => format!("{} {} {}", d.day(), month_en(d), d.year()),
    }
}

/// A date without its year, for chart axes: `5月26日`, `26 May`.
pub fn short_date(lang: Lang, d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    match lang {
        Lang::Zh => format!("{}月{}日", d.month(), d.day()),
        Lang::En => format!("{} {}", d.day(), month_en(d)),
    }
}

/// A month: `2026年5月`, `May 2026`.
pub fn month(lang: Lang, d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    match lang {
        Lang::Zh => format!("{}年{}月", d.year(), d.month()),
        Lang::En => format!("{} {}", month_en(d), d.year()),
    }
}

/// The plant's time zone when its process definition names none.
pub const DEFAULT_ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A moment as the plant reads it, in its time zone `zone`: `2026年5月26日 10:00`,
/// `26 May 2026, 10:00`.
pub fn datetime<T: chrono::TimeZone>(
    lang: Lang,
    zone: chrono_tz::Tz,
    t: &chrono::DateTime<T>,
) -> String {
    let t = t.with_timezone(&zone);
    let time = t.format("%H:%M");
    match lang {
        Lang::Zh => format!("{} {time}", date(lang, t.date_naive())),
        Lang::En => format!("{}, {time}", date(lang, t.date_naive())),
    }
}

/// The plant's calendar day of a moment.
pub fn day(zone: chrono_tz::Tz, t: &chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    t.with_timezone(&zone).date_naive()
}

/// The name of an operation of the process definition.
pub fn operation(lang: Lang, op: threadline_domain::process::Operation) -> &'static str {
    use threadline_domain::process::Operation::*;
    match (lang, op) {
        (Lang::Zh, Receive) => "采购入库",
        (Lang::En, Receive) => "Receipt",
        (Lang::Zh, Commission) => "生产赋码",
        (Lang::En, Commission) => "Commissioning",
        (Lang::Zh, Assemble) => "装配绑定",
        (Lang::En, Assemble) => "Assembly",
        (Lang::Zh, Disassemble) => "拆解",
        (Lang::En, Disassemble) => "Disassembly",
        (Lang::Zh, Transform) => "投料转换",
        (Lang::En, Transform) => "Transformation",
        (Lang::Zh, Inspect) => "质检",
        (Lang::En, Inspect) => "Inspection",
        (Lang::Zh, Store) => "入库/移库",
        (Lang::En, Store) => "Put-away and move",
        (Lang::Zh, Ship) => "销售出库",
        (Lang::En, Ship) => "Shipment",
        (Lang::Zh, Sell) => "终端销售",
        (Lang::En, Sell) => "Sale to a customer",
        (Lang::Zh, Return) => "退货",
        (Lang::En, Return) => "Return",
        (Lang::Zh, Repair) => "维修",
        (Lang::En, Repair) => "Repair",
        (Lang::Zh, Scrap) => "报废",
        (Lang::En, Scrap) => "Scrap",
        (Lang::Zh, Hold) => "冻结/解冻",
        (Lang::En, Hold) => "Hold and release",
        (Lang::Zh, Observe) => "其他记录",
        (Lang::En, Observe) => "Other observations",
    }
}

/// What the API's refusals say to a person, by error code: `(code, zh-CN, en)`. The API answers
/// in English (its messages name values and limits for the integrator); a page shows a Chinese
/// reader the sentence for the code, with the API's message kept as the element's title, and an
/// English reader the API's own message (the English sentence where there is none, and at the
/// scan station, whose list is terse). Every code the source can refuse with has an entry: a
/// test reads `crates/*/src` for them.
pub const ERRORS: &[(&str, &str, &str)] = &[
    // General reading of a request.
    ("required", "必填", "Required"),
    ("missing_field", "缺少必填项", "A required field is missing"),
    ("missing_value", "缺少取值", "A value is missing"),
    ("empty", "不能为空", "Must not be empty"),
    ("too_long", "太长", "Too long"),
    ("too_short", "太短", "Too short"),
    ("invalid_value", "取值无效", "The value is invalid"),
    (
        "unknown_value",
        "不是可选的取值",
        "Not one of the allowed values",
    ),
    (
        "invalid_type",
        "类型不对（例如应为数字）",
        "Wrong type (a number was expected, for example)",
    ),
    ("unknown_field", "不认识的字段", "Unknown field"),
    ("unexpected_field", "不认识的字段", "Unexpected field"),
    (
        "malformed_json",
        "内容无法读取",
        "The content cannot be read",
    ),
    (
        "invalid_json",
        "内容不是有效的 JSON",
        "The content is not valid JSON",
    ),
    ("invalid_form", "表单无法读取", "The form cannot be read"),
    ("invalid_query", "查询参数无效", "Invalid query parameters"),
    (
        "unsupported_media_type",
        "不支持的内容类型",
        "Unsupported content type",
    ),
    ("too_large", "内容过大", "The content is too large"),
    (
        "invalid_character",
        "含有不允许的字符",
        "Contains a character that is not allowed",
    ),
    ("invalid_length", "长度不对", "Wrong length"),
    ("invalid_format", "格式不对", "Wrong format"),
    ("invalid_date", "日期无效", "Invalid date"),
    (
        "invalid_dates",
        "失效日期早于生产日期",
        "The expiry date is before the production date",
    ),
    ("invalid_time", "时间无效", "Invalid time"),
    ("invalid_time_zone", "时区无效", "Invalid time zone"),
    (
        "invalid_time_zone_offset",
        "时区偏移无效（例如 +08:00）",
        "Invalid time zone offset (such as +08:00)",
    ),
    (
        "future_event_time",
        "事件时间在未来",
        "The event time is in the future",
    ),
    ("invalid_number", "不是有效的数字", "Not a valid number"),
    ("invalid_quantity", "数量无效", "Invalid quantity"),
    ("invalid_count", "数量无效", "Invalid count"),
    ("invalid_limit", "条数上限无效", "Invalid limit"),
    ("invalid_name", "名称无效", "Invalid name"),
    ("invalid_code", "代码无效", "Invalid code"),
    ("invalid_id", "编号无效", "Invalid id"),
    ("invalid_url", "网址无效", "Invalid URL"),
    ("invalid_category", "类别无效", "Invalid category"),
    ("invalid_region", "区域代码无效", "Invalid region code"),
    ("invalid_uom", "计量单位无效", "Invalid unit of measure"),
    (
        "invalid_language",
        "语言只能是 zh-CN 或 en",
        "The language is zh-CN or en",
    ),
    ("invalid_status", "状态无效", "Invalid status"),
    ("invalid_mode", "模式无效", "Invalid mode"),
    ("unknown_operation", "没有这个作业", "No such operation"),
    ("invalid_action", "不认识的操作", "Unknown action"),
    (
        "invalid_state",
        "不能选这个状态",
        "This state cannot be chosen",
    ),
    ("invalid_parent", "上级无效", "Invalid parent"),
    (
        "invalid_attribute_name",
        "属性名无效",
        "Invalid attribute name",
    ),
    (
        "invalid_field_name",
        "字段名须为 1–128 个字符",
        "A field name is 1–128 characters",
    ),
    (
        "invalid_transaction_id",
        "业务单号须为 1–128 个字符，首尾不能有空格",
        "A transaction id is 1–128 characters without surrounding spaces",
    ),
    (
        "unknown_vocabulary",
        "不是 CBV 词汇，也不是自定义 URI",
        "Not a CBV word nor a URI of your own vocabulary",
    ),
    ("unknown_permission", "没有这个权限", "Unknown permission"),
    (
        "not_allowed",
        "此类事件不能带这个字段",
        "This kind of event does not take this field",
    ),
    (
        "internal",
        "服务器处理出错，已记录日志",
        "The server failed to handle this request; it has been logged",
    ),
    ("unknown", "未知错误", "Unknown error"),
    // Records and their versions.
    ("already_exists", "已存在", "Already exists"),
    ("exists", "已存在", "Already exists"),
    ("duplicate", "重复", "Duplicate"),
    (
        "duplicate_rule",
        "同一作业只能有一条规则",
        "One rule per operation",
    ),
    (
        "duplicate_gtin",
        "该 GTIN 已被其他产品使用",
        "Another product has this GTIN",
    ),
    (
        "category_taken",
        "该类别已有序列号规则",
        "This category has a serial rule already",
    ),
    ("not_found", "未找到", "Not found"),
    ("unknown_party", "没有这个合作方", "No such party"),
    (
        "invalid_party",
        "该合作方不是经销商，或账号不能绑定合作方",
        "Not a distributor, or the account cannot be bound to a party",
    ),
    ("unknown_location", "没有这个位置", "No such location"),
    ("unknown_product", "没有这个产品", "No such product"),
    (
        "unknown_gtin",
        "没有产品使用这个 GTIN",
        "No product has this GTIN",
    ),
    ("unknown_lot", "没有这个批次", "No such lot"),
    ("unknown_serial", "没有这个序列号", "No such serial"),
    ("unknown_role", "没有这个角色", "No such role"),
    (
        "shipped_role",
        "这是内置角色：权限固定，自定义角色须另起名称",
        "A shipped role: its permissions are fixed, and a custom role needs a name of its own",
    ),
    (
        "role_in_use",
        "仍有用户或令牌持有这个角色，请先收回再删除",
        "Users or tokens still hold this role: take it from them first",
    ),
    (
        "no_permissions",
        "角色至少要有一项权限",
        "A role grants at least one permission",
    ),
    (
        "unknown_serial_rule",
        "没有这个序列号规则",
        "No such serial rule",
    ),
    (
        "invalid_serial_rule",
        "产品的序列号规则无效",
        "The product's serial rule is invalid",
    ),
    ("unknown_event", "没有这个事件", "No such event"),
    (
        "missing_parent",
        "必须指定所在的上级位置",
        "A parent location is required",
    ),
    (
        "unexpected_party",
        "只有外部地点可以属于合作方",
        "Only an external location belongs to a party",
    ),
    (
        "unexpected_regions",
        "只有经销商可以设置授权区域",
        "Only a distributor has authorised regions",
    ),
    (
        "missing_options",
        "选项类型必须列出选项",
        "A choice attribute lists its options",
    ),
    (
        "unexpected_options",
        "只有选项类型可以列出选项",
        "Only a choice attribute lists options",
    ),
    (
        "immutable_field",
        "创建后不能修改",
        "Cannot be changed once created",
    ),
    (
        "name_mismatch",
        "名称不能修改",
        "The name cannot be changed",
    ),
    (
        "code_mismatch",
        "代码与网址中的不一致，代码不能改名",
        "The code differs from the one in the URL; codes cannot be renamed",
    ),
    (
        "version_conflict",
        "已被他人修改：请刷新页面，再做一次修改",
        "Changed by someone else: reload the page and make the change again",
    ),
    (
        "version_mismatch",
        "版本不一致：请刷新页面，再做一次修改",
        "Version mismatch: reload the page and make the change again",
    ),
    (
        "version_required",
        "修改时须带上所改记录的版本（If-Match）",
        "Send the version you are changing (If-Match)",
    ),
    (
        "invalid_if_match",
        "If-Match 须为版本号，例如 \"3\"",
        "If-Match must be a version such as \"3\"",
    ),
    // Accounts, sign-in and signatures.
    (
        "invalid_credentials",
        "用户名或密码错误",
        "The name or the password is wrong",
    ),
    (
        "account_locked",
        "登录失败次数过多，账号已暂时锁定",
        "Too many failed sign-ins: the account is locked for a while",
    ),
    (
        "account_disabled",
        "账号已被管理员停用",
        "An administrator has locked this account",
    ),
    (
        "too_many_sign_ins",
        "此地址登录失败次数过多，请稍后再试",
        "Too many failed sign-ins from this address: try again later",
    ),
    ("unauthenticated", "请先登录", "Sign in first"),
    (
        "invalid_token",
        "令牌无效、已吊销或格式不对",
        "The token is unknown, revoked or malformed",
    ),
    (
        "malformed_credential",
        "不是本服务器签发的凭据",
        "Not a credential this server issues",
    ),
    (
        "csrf_token_mismatch",
        "页面已过期，请刷新后再试",
        "The page has expired: reload it and try again",
    ),
    (
        "not_a_session",
        "此请求用令牌登录，请吊销令牌",
        "This request uses a token: revoke the token instead",
    ),
    ("not_a_user", "令牌没有密码", "A token has no password"),
    (
        "own_account",
        "不能对自己的账号做此操作，请找另一位管理员",
        "Not on your own account: ask another administrator",
    ),
    (
        "password_too_short",
        "密码太短",
        "The password is too short",
    ),
    ("password_too_long", "密码太长", "The password is too long"),
    ("wrong_password", "密码错误", "Wrong password"),
    (
        "signature_required",
        "此操作需要电子签名",
        "This operation needs an electronic signature",
    ),
    (
        "signature_refused",
        "电子签名未通过",
        "The electronic signature was refused",
    ),
    (
        "invalid_meaning",
        "请说明签名的含义（最多 200 字）",
        "Say what the signature means (at most 200 characters)",
    ),
    ("forbidden", "没有权限", "Not permitted"),
    (
        "outside_site",
        "不在您可以作业的厂区",
        "Outside the site you work at",
    ),
    // Operations and the process rules.
    (
        "approval_required",
        "让步接收须填写批准人",
        "Use-as-is needs the name of whoever approved it",
    ),
    (
        "invalid_limits",
        "测量下限高于上限",
        "The low limit is above the high limit",
    ),
    (
        "out_of_limits",
        "测量值超出上下限，结果不能判为合格",
        "A measurement is outside its limits: the result cannot be pass",
    ),
    (
        "nothing_placed",
        "该事件没有放置任何单品或批次，没有可更正的位置",
        "The event put nothing anywhere: there is no location to correct",
    ),
    (
        "nothing_to_correct",
        "该事件没有涉及单品或批次",
        "The event names no units or lots",
    ),
    (
        "wrong_product",
        "序列号属于另一个产品",
        "The serial is a unit of another product",
    ),
    (
        "ambiguous_serial",
        "多个产品都有这个序列号，请扫描 GS1 条码或先选择产品",
        "Several products have this serial: scan the GS1 code or choose the product",
    ),
    ("duplicate_scan", "重复扫码", "Scanned twice"),
    (
        "duplicate_serial",
        "序列号已登记",
        "The serial is registered already",
    ),
    (
        "duplicate_event",
        "该事件已记录",
        "The event is recorded already",
    ),
    (
        "out_of_sequence",
        "单品当前的状态不允许此作业",
        "The unit's state does not allow this step",
    ),
    ("not_in_stock", "单品不在库", "The unit is not in stock"),
    (
        "already_shipped",
        "单品已发货",
        "The unit is shipped already",
    ),
    ("already_sold", "单品已售出", "The unit is sold already"),
    (
        "already_packed",
        "单品已装在其他包装箱内，请先取出",
        "The unit is packed in another container: take it out first",
    ),
    (
        "already_assembled",
        "单品已装配在其他单品上，请先拆下",
        "The unit is built into another unit: remove it first",
    ),
    (
        "not_in_parent",
        "单品不在该上级中",
        "The unit is not in this parent",
    ),
    (
        "not_a_container",
        "该单品不是包装箱",
        "This unit is not a container",
    ),
    (
        "container_not_empty",
        "包装箱内还有单品，请先拆箱再报废",
        "The container still holds units: unpack it before scrapping it",
    ),
    ("qc_hold", "单品处于质检冻结", "The unit is on QC hold"),
    ("on_hold", "单品处于冻结状态", "The unit is on hold"),
    ("item_scrapped", "单品已报废", "The unit is scrapped"),
    (
        "in_container",
        "单品在包装箱内，请整箱操作",
        "The unit is in a container: handle the whole container",
    ),
    (
        "assembly_cycle",
        "不能把单品装进它自己的组件",
        "A unit cannot be built into its own component",
    ),
    (
        "insufficient_quantity",
        "库存数量不足",
        "Not enough quantity in stock",
    ),
    (
        "wrong_tracking",
        "追溯方式不符（序列号或批次）",
        "Wrong kind of tracking (serial or lot)",
    ),
    (
        "missing_attribute",
        "缺少必填的自定义属性",
        "A required custom attribute is missing",
    ),
    (
        "invalid_attribute",
        "自定义属性的取值无效",
        "Invalid custom attribute value",
    ),
    (
        "location_required",
        "需要指定位置",
        "A location is required",
    ),
    ("not_a_unit", "该码不是单品码", "The code names no unit"),
    (
        "no_identifier",
        "该码不对应本系统追踪的产品、单品或批次",
        "The code names no product, unit or lot that Threadline tracks",
    ),
    ("empty_batch", "批次中没有事件", "The batch holds no events"),
    (
        "invalid_idempotency_key",
        "幂等键须为 1–255 个可见 ASCII 字符",
        "An Idempotency-Key is 1–255 visible ASCII characters",
    ),
    (
        "idempotency_key_reused",
        "该幂等键已用于另一个请求",
        "This Idempotency-Key was used for a different request",
    ),
    // Serial rules, allocation and the pool.
    (
        "does_not_match_rule",
        "不符合序列号规则",
        "Does not match the serial rule",
    ),
    (
        "not_in_pool",
        "序列号不在待用号池中",
        "The serial is not in the pool of unassigned serials",
    ),
    (
        "no_serial_rule",
        "该产品没有序列号规则",
        "The product has no serial rule",
    ),
    (
        "allocation_conflict",
        "另一次分配抢先了，请重新分配",
        "Another allocation came first: allocate again",
    ),
    (
        "invalid_allocation",
        "分配的数量与事件中的序列号数不一致",
        "The allocation's count differs from the serials the event names",
    ),
    (
        "batch_too_large",
        "一次申请的序列号太多",
        "Too many serials asked for at once",
    ),
    (
        "sequence_exhausted",
        "流水号已用尽，请加长流水号或更频繁地归零",
        "The sequence is used up: widen it or reset it more often",
    ),
    (
        "sequence_below_start",
        "流水号低于规则的起始值",
        "The sequence value is below the rule's start",
    ),
    (
        "sequence_start_too_large",
        "流水号起始值超出流水号位数",
        "The sequence starts beyond what its digits can write",
    ),
    (
        "reset_without_sequence",
        "规则设置了归零周期，但模板中没有流水号 {SEQ}",
        "The rule resets its sequence, but its template has no {SEQ}",
    ),
    (
        "reset_not_shown",
        "按周期归零时，模板须写出相应的日期部分，否则不同周期的序列号会重复",
        "A sequence reset each period needs that period's date in the template, or serials repeat",
    ),
    (
        "time_zone_required",
        "规则写日期或按日期归零，须指定时区（例如 +08:00）",
        "The rule writes dates or resets by date, so it needs a time zone (such as +08:00)",
    ),
    (
        "random_space_too_small",
        "随机部分太短，无法一次生成这么多不同的序列号",
        "The random part is too short for this many distinct serials at once",
    ),
    (
        "random_source_stuck",
        "随机数来源连续重复，请重试",
        "The random source kept repeating itself: try again",
    ),
    (
        "fmd_guessable",
        "不满足欧盟 FMD 防猜测要求，请加长随机部分或使用更大的字符集",
        "Does not meet the EU FMD limit for guessing a serial: lengthen the random part or use a larger alphabet",
    ),
    (
        "missing_context",
        "规则需要的信息没有提供（如产线、批次）",
        "The rule needs a value the allocation does not give (line, lot…)",
    ),
    (
        "wrong_width",
        "取值的字符数与规则的位数不符",
        "The value has a different number of characters from what the rule writes",
    ),
    (
        "check_alphabet",
        "含有校验字符无法覆盖的字符",
        "Contains a character the check character cannot cover",
    ),
    (
        "check_covers_nothing",
        "校验字符前面没有可校验的部分",
        "The check character has nothing before it to cover",
    ),
    (
        "wrong_check_character",
        "校验字符不对，序列号可能输错或读错",
        "Wrong check character: the serial was probably mistyped or misread",
    ),
    (
        "wrong_length",
        "序列号长度不符合规则",
        "The serial's length does not match its rule",
    ),
    (
        "invalid_alphabet",
        "字符集名称无效",
        "Invalid alphabet name",
    ),
    // Serial and label templates.
    ("invalid_template", "模板无效", "Invalid template"),
    ("invalid_placeholder", "占位符无效", "Invalid placeholder"),
    (
        "unknown_placeholder",
        "模板中有不认识的占位符",
        "The template has an unknown placeholder",
    ),
    (
        "unclosed_placeholder",
        "占位符缺少右括号 }",
        "A placeholder has no closing }",
    ),
    (
        "unopened_placeholder",
        "缺少左括号 {，序列号中不能有大括号",
        "There is no { before it; serials cannot contain braces",
    ),
    (
        "repeated_part",
        "模板中同一部分出现了两次",
        "The template has the same part twice",
    ),
    (
        "no_unique_part",
        "模板既没有流水号也没有随机部分，每个序列号都会相同",
        "The template has neither a sequence nor a random part, so every serial would be the same",
    ),
    (
        "date_out_of_range",
        "两位年份只能写 2000–2099 年",
        "Two-digit years are for 2000–2099",
    ),
    ("invalid_date_format", "日期格式无效", "Invalid date format"),
    ("invalid_size", "标签尺寸无效", "Invalid label size"),
    (
        "invalid_dpi",
        "打印分辨率须为 100–1200 dpi",
        "dpi must be 100 to 1200",
    ),
    (
        "invalid_logo",
        "徽标不是有效的 base64 PNG",
        "The logo is not a valid base64 PNG",
    ),
    (
        "invalid_layout",
        "版式只能是卷标（roll）或 A4",
        "The layout is roll or a4",
    ),
    (
        "invalid_preview",
        "请给出已存的模板名称或模板内容（二选一）",
        "Send either a stored template's name or a template",
    ),
    (
        "invalid_copies",
        "份数超出范围",
        "The number of copies is out of range",
    ),
    (
        "invalid_job",
        "打印任务须且只能指定一个来源：分配、赋码、批次或补打",
        "Name exactly one of allocation, commissioning, lot or reprint",
    ),
    (
        "too_many_labels",
        "一次打印的标签太多",
        "Too many labels in one job",
    ),
    (
        "not_an_allocation",
        "该事件不是序列号分配",
        "The event is not a serial allocation",
    ),
    (
        "not_a_commissioning",
        "该事件不是生产赋码",
        "The event is not a commissioning",
    ),
    (
        "final_state",
        "该单品已结束（已报废、消耗或作废），不打印标签",
        "The unit's life has ended: no label is printed for it",
    ),
    (
        "missing_printer",
        "请以“主机:端口”填写打印机",
        "Name the printer as host:port",
    ),
    ("outside_label", "超出标签范围", "Outside the label"),
    (
        "module_too_small",
        "条码模块太小，打印不清",
        "The barcode's modules are too small to print clearly",
    ),
    ("empty_barcode", "条码没有内容", "The barcode has no data"),
    (
        "unencodable",
        "内容无法编码为该条码类型",
        "The data cannot be encoded in this barcode type",
    ),
    (
        "printer_unreachable",
        "无法连接打印机",
        "The printer cannot be reached",
    ),
    // Webhooks, imports, EPCIS.
    (
        "private_destination",
        "不允许发往内网地址",
        "Private addresses are not allowed",
    ),
    (
        "invalid_secret",
        "密钥须为 1–200 个字符",
        "A secret is 1–200 characters",
    ),
    (
        "epcis_subscription",
        "EPCIS 订阅请在 /epcis/queries/{name}/subscriptions 管理",
        "EPCIS subscriptions are managed at /epcis/queries/{name}/subscriptions",
    ),
    ("invalid_schedule", "订阅时间表无效", "Invalid schedule"),
    ("empty_file", "文件没有表头行", "The file has no header row"),
    ("unreadable_file", "文件无法读取", "The file cannot be read"),
    (
        "missing_column",
        "缺少必需的列",
        "A required column is missing",
    ),
    ("unknown_column", "不认识的列", "Unknown column"),
    (
        "file_too_large",
        "文件太大，请拆分，或改用 CSV",
        "The file is too large: split it, or send CSV",
    ),
    (
        "too_many_errors",
        "问题太多，只列出了前面一部分",
        "Too many problems: only the first are listed",
    ),
    (
        "invalid_document",
        "不是 EPCIS 2.0 文档",
        "Not an EPCIS 2.0 document",
    ),
    ("invalid_xml", "XML 无法读取", "The XML cannot be read"),
    (
        "invalid_event",
        "事件须为 JSON 对象",
        "An event is a JSON object",
    ),
    (
        "invalid_event_type",
        "不是 EPCIS 2.0 的事件类型",
        "Not an EPCIS 2.0 event type",
    ),
    (
        "not_namespaced",
        "扩展字段需要命名空间前缀",
        "An extension field needs a namespace prefix",
    ),
    (
        "not_supported",
        "不支持此查询参数取值",
        "This query parameter value is not supported",
    ),
    (
        "unsupported_version",
        "不支持的 EPCIS 或 CBV 版本",
        "Unsupported EPCIS or CBV version",
    ),
    (
        "one_event",
        "此接口一次只收一个事件，文档请发往 /capture",
        "One event at a time here; send documents to /capture",
    ),
    (
        "too_many_events",
        "一次采集的事件太多",
        "Too many events in one capture",
    ),
    (
        "too_many_places",
        "该位置下属位置太多，无法按“含下级”查询",
        "This place has too many places under it to query with its descendants",
    ),
    ("invalid_identifier", "标识符无效", "Invalid identifier"),
    (
        "unsupported_identifier",
        "此处不能用这种标识（对象与类别不可互换）",
        "This kind of identifier does not belong here (an object where a class belongs, or a class where an object belongs)",
    ),
    (
        "ambiguous_identifier",
        "该标识对应多个单品，无法确定是哪一个",
        "The identifier names units of several products",
    ),
    ("invalid_verdict", "验证结论无效", "Invalid verdict"),
    // Recall campaigns and their signatures.
    ("recall_closed", "召回已结案", "The recall is closed"),
    (
        "already_closed",
        "召回已结案",
        "The recall is closed already",
    ),
    (
        "narrow_empty",
        "缩小后的范围里没有单品",
        "The narrowed scope holds no units",
    ),
    ("narrow_unchanged", "范围没有变化", "The scope is unchanged"),
    ("no_units", "没有单品", "No units"),
    (
        "invalid_reason",
        "请填写原因（1–1000 字）",
        "Give a reason (1–1000 characters)",
    ),
    (
        "invalid_note",
        "结案说明太长（最多 2000 字）",
        "The closing note is too long (at most 2000 characters)",
    ),
    (
        "recall_too_large",
        "召回范围涉及的单品和批次过多，请缩小范围",
        "The recall reaches too many units and lots: narrow its scope",
    ),
    // Trace scopes.
    (
        "ambiguous_scope",
        "追溯范围只能给一种起点",
        "A trace starts from one kind of thing only",
    ),
    ("invalid_shift", "班次无效", "Invalid shift"),
    ("invalid_window", "时间窗口无效", "Invalid time window"),
    (
        "trace_too_large",
        "追溯结果过大，请导出 CSV/XLSX 或缩小范围",
        "The trace is too large: export it as CSV/XLSX or narrow it",
    ),
    // What a scanner sends: GS1 element strings, Digital Link, EPC URNs.
    ("empty_scan", "扫描内容为空", "The scan is empty"),
    ("empty_input", "内容为空", "Nothing was given"),
    ("invalid_gtin", "GTIN 无效", "Invalid GTIN"),
    ("invalid_check_digit", "校验位不对", "Wrong check digit"),
    (
        "invalid_element_string",
        "无法识别的 GS1 条码内容",
        "Unreadable GS1 element string",
    ),
    (
        "invalid_symbology",
        "无法识别的条码类型标识",
        "Unreadable symbology identifier",
    ),
    (
        "unknown_ai",
        "未知的 GS1 应用标识符（AI）",
        "Unknown GS1 Application Identifier (AI)",
    ),
    (
        "too_many_ais",
        "应用标识符（AI）过多",
        "Too many Application Identifiers (AIs)",
    ),
    (
        "conflicting_ai_values",
        "同一应用标识符（AI）出现了不同的值",
        "One Application Identifier (AI) with different values",
    ),
    (
        "duplicate_ai",
        "应用标识符（AI）重复",
        "An Application Identifier (AI) is repeated",
    ),
    (
        "missing_required_ai",
        "缺少必需的应用标识符（AI）",
        "A required Application Identifier (AI) is missing",
    ),
    (
        "mutually_exclusive_ais",
        "这些应用标识符（AI）不能同时出现",
        "These Application Identifiers (AIs) cannot appear together",
    ),
    ("invalid_gln", "GLN 无效", "Invalid GLN"),
    ("invalid_sscc", "SSCC 无效", "Invalid SSCC"),
    (
        "invalid_digital_link",
        "GS1 数字链接无效",
        "Invalid GS1 Digital Link",
    ),
    (
        "not_a_digital_link",
        "不是 GS1 数字链接",
        "Not a GS1 Digital Link",
    ),
    (
        "invalid_qualifier",
        "数字链接的限定符无效",
        "Invalid Digital Link qualifier",
    ),
    (
        "invalid_qualifier_order",
        "数字链接的限定符顺序不对",
        "Digital Link qualifiers in the wrong order",
    ),
    (
        "qualifier_in_query",
        "限定符应在链接路径中，而不是查询参数中",
        "A qualifier belongs in the path, not the query",
    ),
    (
        "not_a_data_attribute",
        "数字链接的查询参数不是数据属性",
        "A Digital Link query parameter is not a data attribute",
    ),
    (
        "not_representable",
        "无法表示为数字链接",
        "Cannot be written as a Digital Link",
    ),
    (
        "zero_suppressed_gtin",
        "不支持零压缩的 GTIN",
        "Zero-suppressed GTINs are not supported",
    ),
    ("invalid_epc_urn", "EPC URN 无效", "Invalid EPC URN"),
    (
        "unsupported_epc",
        "不支持的 EPC 类型",
        "Unsupported EPC scheme",
    ),
    (
        "invalid_company_prefix",
        "厂商识别代码无效",
        "Invalid GS1 Company Prefix",
    ),
];

/// A partner's event recorded past a process rule, or past a state it cannot change (a unit
/// commissioned again, a unit that no longer exists): code, zh-CN, en.
const PAST_PROCESS: &[(&str, &str, &str)] = &[
    (
        "out_of_sequence",
        "合作方上报的作业不符合单品当时的状态：已按事件记录",
        "The partner's step did not fit the unit's state: recorded as reported",
    ),
    (
        "not_in_stock",
        "单品不在库时被合作方上报发货：已按事件记录",
        "Reported shipped while not in stock: recorded as reported",
    ),
    (
        "already_shipped",
        "单品已发货，又被合作方上报发货：已按事件记录",
        "Reported shipped again while in transit: recorded as reported",
    ),
    (
        "already_sold",
        "单品已售出，又被合作方上报发货或销售：已按事件记录",
        "Reported shipped or sold after it was sold: recorded as reported",
    ),
    (
        "on_hold",
        "单品冻结期间被合作方上报作业：已记录，冻结保留",
        "A partner's event moved the unit while it was on hold: recorded, the hold stays",
    ),
    (
        "qc_hold",
        "单品质检冻结期间被合作方上报作业：已记录，冻结保留",
        "A partner's event moved the unit while it was on QC hold: recorded, the hold stays",
    ),
    (
        "in_container",
        "合作方上报单品未随包装箱单独移动：已从包装箱中移出",
        "Reported moving without its container: taken out of it",
    ),
    (
        "missing_field",
        "合作方事件缺少流程要求的字段：按缺失记录",
        "The partner's event lacks a field the process requires: recorded as missing",
    ),
    (
        "duplicate_serial",
        "合作方再次赋码已登记的序列号：单品保持原有信息",
        "A partner commissioned a serial already registered: the unit keeps what it had",
    ),
    (
        "item_scrapped",
        "单品已报废或已耗用，合作方的事件仍提及它：单品状态不变",
        "A partner's event names a unit already scrapped or used up: its state is unchanged",
    ),
];

/// The catalogue's sentence for an error code in `lang`, if it has one.
pub fn error_sentence(lang: Lang, code: &str) -> Option<&'static str> {
    ERRORS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => *zh,
            Lang::En => *en,
        })
}

/// What a discrepancy (a partner's event recorded although Threadline's state or process
/// disagreed) says in `lang`: the refusal's sentence, except where the event was recorded by
/// registering what it names on first use, or past a process rule (what the projection did
/// instead: `projection::past_process`).
pub fn discrepancy_sentence(lang: Lang, code: &str) -> Option<&'static str> {
    if let Some((_, zh, en)) = PAST_PROCESS.iter().find(|(c, _, _)| *c == code) {
        return Some(match lang {
            Lang::Zh => zh,
            Lang::En => en,
        });
    }
    match (lang, code) {
        (Lang::Zh, "unknown_serial") => Some("序列号首次出现在合作方的事件中：系统未见其生产"),
        (Lang::En, "unknown_serial") => {
            Some("Serial first seen in a partner's event: Threadline did not see it made")
        }
        (Lang::Zh, "unknown_lot") => Some("批次首次出现在合作方的事件中：系统未见其生产"),
        (Lang::En, "unknown_lot") => {
            Some("Lot first seen in a partner's event: Threadline did not see it made")
        }
        _ => error_sentence(lang, code),
    }
}

/// A refusal of the API as the reader reads it (see [`ERRORS`]): the Chinese sentence for its
/// code, or the API's own English message (the English sentence when the message is empty).
pub fn refusal_text(lang: Lang, e: &threadline_domain::error::FieldError) -> &str {
    match lang {
        Lang::Zh => error_sentence(lang, e.code).unwrap_or(&e.message),
        Lang::En if e.message.trim().is_empty() => error_sentence(lang, e.code).unwrap_or(e.code),
        Lang::En => &e.message,
    }
}

/// Codes whose sentence is only a kind ("the value is invalid"): the API's message says what
/// is wrong with it, so a page shows that too.
const GENERIC_ERRORS: &[&str] = &[
    "invalid_value",
    "unknown_value",
    "invalid_type",
    "malformed_json",
];

/// The message of a refusal in a page's list of problems: the reader's sentence, with the API's
/// own message as its title when they differ (and beside it, for a code that only names a kind).
pub fn refusal_html(lang: Lang, e: &threadline_domain::error::FieldError) -> String {
    let text = refusal_text(lang, e);
    if text == e.message {
        crate::ui::esc(text)
    } else if GENERIC_ERRORS.contains(&e.code) {
        format!(
            "{} <span class=\"muted\" lang=\"en\">({})</span>",
            crate::ui::esc(text),
            crate::ui::esc(&e.message)
        )
    } else {
        format!(
            "<span title=\"{}\">{}</span>",
            crate::ui::esc(&e.message),
            crate::ui::esc(text)
        )
    }
}

/// The display name of a word of the master data's vocabularies (tracking modes, party and
/// location kinds, attribute types) and of the roles; a word without one shows as it is.
pub fn vocabulary(lang: Lang, word: &str) -> &str {
    match (lang, word) {
        (Lang::Zh, "never") => "不归零",
        (Lang::En, "never") => "Never",
        (Lang::Zh, "yearly") => "每年",
        (Lang::En, "yearly") => "Every year",
        (Lang::Zh, "monthly") => "每月",
        (Lang::En, "monthly") => "Every month",
        (Lang::Zh, "daily") => "每天",
        (Lang::En, "daily") => "Every day",
        (Lang::Zh, "product") => "同一产品内",
        (Lang::En, "product") => "One product",
        (Lang::Zh, "global") => "全部产品",
        (Lang::En, "global") => "All products",
        (Lang::Zh, "serial") => "一物一码（序列号）",
        (Lang::En, "serial") => "Serial numbers",
        (Lang::Zh, "lot") => "批次",
        (Lang::En, "lot") => "Lots",
        (Lang::Zh, "none") => "不追溯",
        (Lang::En, "none") => "Not tracked",
        (Lang::Zh, "supplier") => "供应商",
        (Lang::En, "supplier") => "Supplier",
        (Lang::Zh, "customer") => "客户",
        (Lang::En, "customer") => "Customer",
        (Lang::Zh, "distributor") => "经销商",
        (Lang::En, "distributor") => "Distributor",
        (Lang::Zh, "site") => "厂区",
        (Lang::En, "site") => "Site",
        (Lang::Zh, "area") => "区域",
        (Lang::En, "area") => "Area",
        (Lang::Zh, "line") => "产线",
        (Lang::En, "line") => "Line",
        (Lang::Zh, "bin") => "库位",
        (Lang::En, "bin") => "Bin",
        (Lang::Zh, "external") => "外部地点",
        (Lang::En, "external") => "External",
        (Lang::Zh, "text") => "文本",
        (Lang::En, "text") => "Text",
        (Lang::Zh, "number") => "数字",
        (Lang::En, "number") => "Number",
        (Lang::Zh, "date") => "日期",
        (Lang::En, "date") => "Date",
        (Lang::Zh, "enum") => "枚举",
        (Lang::En, "enum") => "Choice",
        (Lang::Zh, "admin") => "管理员",
        (Lang::En, "admin") => "Admin",
        (Lang::Zh, "warehouse") => "仓管员",
        (Lang::En, "warehouse") => "Warehouse",
        (Lang::Zh, "production") => "产线操作员",
        (Lang::En, "production") => "Production",
        (Lang::Zh, "qc") => "质检员",
        (Lang::En, "qc") => "QC",
        (Lang::Zh, "sales") => "销售",
        (Lang::En, "sales") => "Sales",
        (Lang::Zh, "service") => "售后工程师",
        (Lang::En, "service") => "Service",
        (Lang::Zh, "quality") => "质量管理",
        (Lang::En, "quality") => "Quality",
        (Lang::Zh, "auditor") => "审计",
        (Lang::En, "auditor") => "Auditor",
        (Lang::Zh, "bool") => "是/否",
        (Lang::En, "bool") => "Yes/no",
        _ => word,
    }
}

#[cfg(test)]
mod catalogue_tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// Codes the source computes where the scan below cannot follow them, each with the file
    /// that writes it as a literal (checked, so the list cannot go stale).
    const COMPUTED: &[(&str, &str)] = &[
        // `body::classify` reads serde's message.
        ("threadline-server/src/body.rs", "invalid_type"),
        ("threadline-server/src/body.rs", "unknown_value"),
        ("threadline-server/src/body.rs", "malformed_json"),
    ];

    /// Every `.rs` file under `crates/*/src`, by its path from `crates/`.
    fn sources() -> BTreeMap<String, String> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for c in std::fs::read_dir(&crates).into_iter().flatten().flatten() {
            walk(&c.path().join("src"), &mut files);
        }
        files
            .into_iter()
            .filter_map(|p| {
                let name = p.strip_prefix(&crates).ok()?.to_string_lossy().into_owned();
                Some((name, std::fs::read_to_string(&p).ok()?))
            })
            .collect()
    }

    /// Where the literal, char or string starting at `i` ends (`i + 1` for anything else).
    fn skip_literal(b: &[u8], i: usize) -> usize {
        match b[i] {
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                j + 1
            }
            b'r' if b.get(i + 1) == Some(&b'#') || b.get(i + 1) == Some(&b'"') => {
                let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    return i + 1;
                }
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                let body = i + 2 + hashes;
                b[body..]
                    .windows(close.len())
                    .position(|w| w == close.as_slice())
                    .map_or(b.len(), |p| body + p + close.len())
            }
            // '{', '\'', '\u{7b}' — not a lifetime such as 'static.
            b'\'' if b.get(i + 2) == Some(&b'\'') => i + 3,
            b'\'' if b.get(i + 1) == Some(&b'\\') => b[i + 2..]
                .iter()
                .position(|c| *c == b'\'')
                .map_or(b.len(), |p| i + 3 + p),
            _ => i + 1,
        }
    }

    /// The text without its `#[cfg(test)]` modules: codes asserted there are not the server's.
    fn without_tests(src: &str) -> String {
        let b = src.as_bytes();
        let mut out = String::new();
        let mut from = 0;
        while let Some(at) = src[from..].find("#[cfg(test)]").map(|p| from + p) {
            let rest = src[at + 12..].trim_start();
            let inline = rest
                .find(['{', ';'])
                .is_some_and(|p| rest.as_bytes()[p] == b'{');
            if !rest.starts_with("mod ") || !inline {
                out.push_str(&src[from..at + 12]);
                from = at + 12;
                continue;
            }
            out.push_str(&src[from..at]);
            let Some(open) = src[at..].find('{').map(|p| at + p) else {
                return out;
            };
            let (mut i, mut depth) = (open, 0usize);
            while i < b.len() {
                match b[i] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                i = skip_literal(b, i);
            }
            from = (i + 1).min(b.len());
        }
        out.push_str(&src[from..]);
        out
    }

    /// The top-level arguments of the call whose `(` is just before `start`.
    fn args(src: &str, start: usize) -> Vec<&str> {
        let b = src.as_bytes();
        let (mut i, mut depth, mut from, mut out) = (start, 0usize, start, Vec::new());
        while i < b.len() {
            match b[i] {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' if depth == 0 => {
                    out.push(src[from..i].trim());
                    return out;
                }
                b')' | b']' | b'}' => depth -= 1,
                b',' if depth == 0 => {
                    out.push(src[from..i].trim());
                    from = i + 1;
                }
                _ => {}
            }
            i = skip_literal(b, i);
        }
        out
    }

    fn is_code(s: &str) -> bool {
        s.bytes().next().is_some_and(|c| c.is_ascii_lowercase())
            && s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
    }

    /// `"code"` → `code`.
    fn code_literal(arg: &str) -> Option<&str> {
        arg.strip_prefix('"')?
            .strip_suffix('"')
            .filter(|c| is_code(c))
    }

    /// Functions and closures that take an error code (`code: &'static str`), with the
    /// position of that parameter; public ones are called from other files too.
    fn helpers(src: &str) -> Vec<(String, usize, bool)> {
        let mut out = Vec::new();
        for (at, _) in src.match_indices("fn ") {
            if at > 0 && src.as_bytes()[at - 1].is_ascii_alphanumeric() {
                continue;
            }
            let rest = &src[at + 3..];
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(0);
            let Some(open) = rest.find('(') else { continue };
            let name = &rest[..name_len];
            if name.is_empty() || name == "new" {
                continue;
            }
            let public = src[..at]
                .rsplit('\n')
                .next()
                .is_some_and(|l| l.trim_start().starts_with("pub"));
            let params = args(rest, open + 1);
            let params: Vec<&str> = params
                .into_iter()
                .filter(|p| !p.is_empty() && !p.ends_with("self"))
                .collect();
            for (i, p) in params.iter().enumerate() {
                if let Some((n, ty)) = p.split_once(':')
                    && n.trim().contains("code")
                    && ty.trim() == "&'static str"
                {
                    out.push((name.to_owned(), i, public));
                }
            }
        }
        for (at, _) in src.match_indices("let ") {
            let rest = &src[at + 4..];
            let Some((name, value)) = rest.split_once('=') else {
                continue;
            };
            let name = name.trim();
            let Some(params) = value.trim_start().strip_prefix('|') else {
                continue;
            };
            let Some(close) = params.find('|') else {
                continue;
            };
            if !is_code(name) {
                continue;
            }
            for (i, p) in params[..close].split(',').enumerate() {
                if let Some((n, ty)) = p.split_once(':')
                    && n.trim().contains("code")
                    && ty.trim() == "&'static str"
                {
                    out.push((name.to_owned(), i, false));
                }
            }
        }
        out
    }

    /// `("code", message)` pairs in `text`: the codes of `let (code, message) = …` choices.
    fn code_tuples(text: &str, out: &mut BTreeSet<String>) {
        for (at, _) in text.match_indices('(') {
            if !text[at + 1..].trim_start().starts_with('"') {
                continue;
            }
            let a = args(text, at + 1);
            let [first, second, ..] = a.as_slice() else {
                continue;
            };
            let message = second.starts_with('"')
                || second.starts_with("format!")
                || (is_code(second.trim_end_matches(".to_owned()")));
            if let Some(code) = code_literal(first)
                && message
            {
                out.insert(code.to_owned());
            }
        }
    }

    /// Every error code the source can refuse with, and the file it was found in.
    fn codes_in_source() -> BTreeMap<String, String> {
        let files: BTreeMap<String, String> = sources()
            .into_iter()
            .map(|(name, src)| (name, without_tests(&src)))
            .collect();
        let mut public: Vec<(String, usize)> = Vec::new();
        let mut local: BTreeMap<&str, Vec<(String, usize)>> = BTreeMap::new();
        for (name, src) in &files {
            for (f, i, is_pub) in helpers(src) {
                if is_pub {
                    public.push((f, i));
                } else {
                    local.entry(name).or_default().push((f, i));
                }
            }
        }
        let mut found = BTreeMap::new();
        for (name, src) in &files {
            let mut calls = vec![("FieldError::new".to_owned(), 0)];
            calls.extend(public.iter().cloned());
            calls.extend(local.get(name.as_str()).into_iter().flatten().cloned());
            let mut codes = BTreeSet::new();
            for (f, index) in &calls {
                let pattern = format!("{f}(");
                for (at, _) in src.match_indices(&pattern) {
                    let before = src[..at].chars().next_back();
                    if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                        || src[..at].ends_with("fn ")
                    {
                        continue;
                    }
                    let a = args(src, at + pattern.len());
                    let Some(arg) = a.get(*index) else { continue };
                    if let Some(code) = code_literal(arg) {
                        codes.insert(code.to_owned());
                    } else if is_code(arg) {
                        // A code chosen above the call: look through the function for it.
                        let start = src[..at].rfind("fn ").unwrap_or(0);
                        code_tuples(&src[start..at], &mut codes);
                    }
                }
            }
            for code in codes {
                found.entry(code).or_insert_with(|| name.clone());
            }
        }
        for (file, code) in COMPUTED {
            let src = files.get(*file).map(String::as_str).unwrap_or_default();
            assert!(
                src.contains(&format!("\"{code}\"")),
                "{file} no longer writes {code}"
            );
            found
                .entry((*code).to_owned())
                .or_insert_with(|| (*file).to_owned());
        }
        found
    }

    fn has_cjk(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    /// Every error code the source can refuse with has a sentence in both languages, so no
    /// Chinese reader meets the API's English on a page; and the catalogue holds no code the
    /// source no longer uses.
    #[test]
    fn every_error_code_in_the_source_has_a_sentence_in_both_languages() {
        let found = codes_in_source();
        assert!(
            found.len() > 200,
            "the scan found only {} codes: is it still reading calls?",
            found.len()
        );
        // Codes the scan must see, each through one of its paths: a literal, a helper taking
        // the code (private and public), a code chosen in a tuple, the computed list.
        for code in [
            "invalid_window",
            "invalid_check_digit",
            "invalid_count",
            "already_sold",
            "not_an_allocation",
            "invalid_type",
            "internal",
        ] {
            assert!(found.contains_key(code), "the scan missed {code}");
        }
        let missing: Vec<String> = found
            .iter()
            .filter(|(code, _)| {
                error_sentence(Lang::Zh, code).is_none() || error_sentence(Lang::En, code).is_none()
            })
            .map(|(code, file)| format!("{file}: {code}"))
            .collect();
        assert!(
            missing.is_empty(),
            "no sentence in the catalogue for {missing:?}"
        );
        for (i, (code, zh, en)) in ERRORS.iter().enumerate() {
            assert!(
                !ERRORS[..i].iter().any(|(c, _, _)| c == code),
                "{code} twice"
            );
            assert!(has_cjk(zh), "{code}: {zh} is not Chinese");
            assert!(
                !en.is_empty() && !has_cjk(en),
                "{code}: {en} is not English"
            );
        }
        let stale: Vec<&str> = ERRORS
            .iter()
            .map(|(code, _, _)| *code)
            .filter(|code| !found.contains_key(*code))
            .collect();
        assert!(stale.is_empty(), "refused nowhere in the source: {stale:?}");
        // A Chinese reader reads the sentence, an English one the API's own message.
        let e = threadline_domain::error::FieldError::new("already_sold", "serial S1 of P is sold");
        assert_eq!(refusal_text(Lang::Zh, &e), "单品已售出");
        assert_eq!(refusal_text(Lang::En, &e), "serial S1 of P is sold");
        let bare = threadline_domain::error::FieldError::new("already_sold", "");
        assert_eq!(refusal_text(Lang::En, &bare), "The unit is sold already");
    }

    /// The names of business steps: one per step, in both languages, whether a page names it
    /// by its operation (station, process rules) or by its CBV step (passport, trace).
    #[test]
    fn every_step_has_one_name_in_each_language() {
        let mut names = Vec::new();
        for (step_code, op) in STEP_OPERATIONS {
            let (zh, en) = (step(Lang::Zh, step_code), step(Lang::En, step_code));
            assert_eq!((zh, en), (operation(Lang::Zh, op), operation(Lang::En, op)));
            assert!(
                !zh.is_ascii() && en.is_ascii() && en != step_code,
                "{step_code}"
            );
            names.push((op, zh, en));
        }
        for (op, zh, en) in &names {
            assert!(
                !names
                    .iter()
                    .any(|(o, z, e)| o != op && (z == zh || e == en)),
                "{op:?} shares its name ({zh}, {en}) with another operation"
            );
        }
        for s in [
            "packing",
            "unpacking",
            "replacing",
            "removing",
            "encoding",
            "accepting",
        ] {
            assert!(
                !step(Lang::Zh, s).is_ascii() && step(Lang::En, s) != s,
                "{s}"
            );
        }
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn numbers_and_dates_per_locale() {
        assert_eq!(int(Lang::Zh, 1_234_567), "1,234,567");
        assert_eq!(int(Lang::En, -1000), "-1,000");
        assert_eq!(int(Lang::En, 999), "999");
        assert_eq!(decimal(Lang::En, 12345.678, 2), "12,345.68");
        assert_eq!(decimal(Lang::En, -0.04, 1), "0.0");
        assert_eq!(pct(Lang::Zh, 2, 3), "66.7%");
        assert_eq!(pct(Lang::En, 1, 0), "—");
        let d = chrono::NaiveDate::from_ymd_opt(2026, 5, 26).unwrap_or_default();
        assert_eq!(date(Lang::Zh, d), "2026年5月26日");
        assert_eq!(date(Lang::En, d), "26 May 2026");
        assert_eq!(short_date(Lang::En, d), "26 May");
        assert_eq!(month(Lang::Zh, d), "2026年5月");
        // Late evening in Berlin is the next morning in Shanghai; a zone's summer time counts.
        let t =
            chrono::DateTime::parse_from_rfc3339("2026-05-26T22:05:00+02:00").unwrap_or_default();
        assert_eq!(datetime(Lang::Zh, DEFAULT_ZONE, &t), "2026年5月27日 04:05");
        assert_eq!(
            datetime(Lang::En, chrono_tz::Europe::Berlin, &t),
            "26 May 2026, 22:05"
        );
        assert_eq!(
            datetime(Lang::En, chrono_tz::UTC, &t.with_timezone(&chrono::Utc)),
            "26 May 2026, 20:05"
        );
        let utc = t.with_timezone(&chrono::Utc);
        assert_eq!(day(DEFAULT_ZONE, &utc).to_string(), "2026-05-27");
    }
}
