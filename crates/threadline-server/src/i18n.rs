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
    OpReceive,
    OpCommission,
    OpAssemble,
    OpInspect,
    OpMove,
    OpShip,
    OpReturn,
    OpRepair,
    OpScrap,
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
    OperationDetails,
    NoOperationPermitted,
    Corrects,
    Released,
    Corrected,
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
        (Lang::Zh, OpReceive) => "采购入库",
        (Lang::En, OpReceive) => "Receive",
        (Lang::Zh, OpCommission) => "生产赋码",
        (Lang::En, OpCommission) => "Commission",
        (Lang::Zh, OpAssemble) => "装配绑定",
        (Lang::En, OpAssemble) => "Assemble",
        (Lang::Zh, OpInspect) => "质检",
        (Lang::En, OpInspect) => "Inspect",
        (Lang::Zh, OpMove) => "移库",
        (Lang::En, OpMove) => "Move",
        (Lang::Zh, OpShip) => "销售出库",
        (Lang::En, OpShip) => "Ship",
        (Lang::Zh, OpReturn) => "退货",
        (Lang::En, OpReturn) => "Return",
        (Lang::Zh, OpRepair) => "维修",
        (Lang::En, OpRepair) => "Repair",
        (Lang::Zh, OpScrap) => "报废",
        (Lang::En, OpScrap) => "Scrap",
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
        (Lang::Zh, OperationDetails) => "作业信息",
        (Lang::En, OperationDetails) => "Operation details",
        (Lang::Zh, NoOperationPermitted) => "您的角色不允许任何扫码作业。",
        (Lang::En, NoOperationPermitted) => "Your roles allow no scanning operation.",
        (Lang::Zh, Corrects) => "更正",
        (Lang::En, Corrects) => "Corrects",
        (Lang::Zh, Released) => "解除",
        (Lang::En, Released) => "Released",
        (Lang::Zh, Corrected) => "已更正",
        (Lang::En, Corrected) => "Corrected",
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

/// The display name of a CBV business step; a step without a translation shows as it is.
pub fn step(lang: Lang, step: &str) -> &str {
    match (lang, step) {
        (Lang::Zh, "receiving") => "收货入库",
        (Lang::En, "receiving") => "Received",
        (Lang::Zh, "commissioning") => "生产赋码",
        (Lang::En, "commissioning") => "Commissioned",
        (Lang::Zh, "assembling") => "装配",
        (Lang::En, "assembling") => "Assembled",
        (Lang::Zh, "packing") => "装箱",
        (Lang::En, "packing") => "Packed",
        (Lang::Zh, "unpacking") => "拆箱",
        (Lang::En, "unpacking") => "Unpacked",
        (Lang::Zh, "inspecting") => "质检",
        (Lang::En, "inspecting") => "Inspected",
        (Lang::Zh, "storing") => "移库",
        (Lang::En, "storing") => "Moved",
        (Lang::Zh, "shipping") => "发货",
        (Lang::En, "shipping") => "Shipped",
        (Lang::Zh, "retail_selling") => "销售",
        (Lang::En, "retail_selling") => "Sold",
        (Lang::Zh, "repairing") => "维修",
        (Lang::En, "repairing") => "Repaired",
        (Lang::Zh, "replacing") => "换件",
        (Lang::En, "replacing") => "Parts replaced",
        (Lang::Zh, "removing") => "拆卸",
        (Lang::En, "removing") => "Parts removed",
        (Lang::Zh, "destroying") => "报废",
        (Lang::En, "destroying") => "Scrapped",
        (Lang::Zh, "holding") => "冻结/解冻",
        (Lang::En, "holding") => "Hold",
        (Lang::Zh, "encoding") => "赋码/补打标签",
        (Lang::En, "encoding") => "Label encoded",
        (Lang::Zh, "creating_class_instance") => "投料转换",
        (Lang::En, "creating_class_instance") => "Transformed",
        (Lang::Zh, "transforming") => "投料转换",
        (Lang::En, "transforming") => "Transformed",
        (Lang::Zh, "accepting") => "验收",
        (Lang::En, "accepting") => "Accepted",
        (Lang::Zh, "returning") => "退货",
        (Lang::En, "returning") => "Returned",
        (Lang::Zh, "disassembling") => "拆解",
        (Lang::En, "disassembling") => "Disassembled",
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
}

pub fn alert(lang: Lang, a: Alert) -> &'static str {
    use Alert::*;
    match (lang, a) {
        (Lang::Zh, RecallHold) => "召回冻结",
        (Lang::En, RecallHold) => "Recall hold",
        (Lang::Zh, QcFailed) => "质检不合格",
        (Lang::En, QcFailed) => "QC failure",
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
    }
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

/// A moment in the time zone it is given in: `2026年5月26日 10:00 (+08:00)`,
/// `26 May 2026, 10:00 (+08:00)`.
pub fn datetime<Tz: chrono::TimeZone>(lang: Lang, t: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let offset = t.format("%:z").to_string();
    let offset = if offset == "+00:00" {
        "UTC".to_owned()
    } else {
        offset
    };
    let time = t.format("%H:%M");
    match lang {
        Lang::Zh => format!("{} {time} ({offset})", date(lang, t.date_naive())),
        Lang::En => format!("{}, {time} ({offset})", date(lang, t.date_naive())),
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
        let t =
            chrono::DateTime::parse_from_rfc3339("2026-05-26T10:05:00+08:00").unwrap_or_default();
        assert_eq!(datetime(Lang::Zh, &t), "2026年5月26日 10:05 (+08:00)");
        assert_eq!(
            datetime(Lang::En, &t.with_timezone(&chrono::Utc)),
            "26 May 2026, 02:05 (UTC)"
        );
    }
}
