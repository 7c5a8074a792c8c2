//! The dictionary itself, one line per AI or AI range, transcribed from the AI facts in the GS1
//! Barcode Syntax Dictionary (format, FNC1 flag, key / Digital Link flags, `req`/`ex` rules and
//! Digital Link qualifiers). Flags: `*` predefined length, `!` identification key, `?` allowed as
//! a Digital Link data attribute.

use super::{AiDef, Check, Component, Cset};

const fn comp(cset: Cset, min: u8, max: u8) -> Component {
    Component {
        cset,
        min,
        max,
        optional: false,
        check: Check::None,
    }
}
/// `Nlen`
const fn n(len: u8) -> Component {
    comp(Cset::Numeric, len, len)
}
/// `N..max`
const fn nv(max: u8) -> Component {
    comp(Cset::Numeric, 1, max)
}
/// `Xlen`
const fn xf(len: u8) -> Component {
    comp(Cset::Cset82, len, len)
}
/// `X..max`
const fn x(max: u8) -> Component {
    comp(Cset::Cset82, 1, max)
}
/// `Y..max`
const fn y(max: u8) -> Component {
    comp(Cset::Cset39, 1, max)
}
/// `Z..max`
const fn z(max: u8) -> Component {
    comp(Cset::Cset64, 1, max)
}

impl Component {
    const fn ck(mut self, check: Check) -> Self {
        self.check = check;
        self
    }
    const fn opt(mut self) -> Self {
        self.optional = true;
        self
    }
}

const fn ai(
    first: &'static str,
    title: &'static str,
    flags: &str,
    components: &'static [Component],
) -> AiDef {
    let f = flags.as_bytes();
    let (mut predefined, mut key, mut dl_attribute) = (false, false, false);
    let mut i = 0;
    while i < f.len() {
        match f[i] {
            b'*' => predefined = true,
            b'!' => key = true,
            b'?' => dl_attribute = true,
            _ => {}
        }
        i += 1;
    }
    AiDef {
        first,
        last: first,
        title,
        predefined,
        key,
        dl_attribute,
        components,
        req: &[],
        ex: "",
        dl_qualifiers: None,
    }
}

impl AiDef {
    const fn to(mut self, last: &'static str) -> Self {
        self.last = last;
        self
    }
    const fn req(mut self, req: &'static [&'static str]) -> Self {
        self.req = req;
        self
    }
    const fn ex(mut self, ex: &'static str) -> Self {
        self.ex = ex;
        self
    }
    /// Digital Link primary key with these qualifier sequences (`""` = no qualifiers).
    const fn dl(mut self, qualifiers: &'static str) -> Self {
        self.dl_qualifiers = Some(qualifiers);
        self
    }
}

const CSUM14: &[Component] = &[n(14).ck(Check::Csum)];
const CSUM13: &[Component] = &[n(13).ck(Check::Csum)];
const CSUM18: &[Component] = &[n(18).ck(Check::Csum)];
const DATE0: &[Component] = &[n(6).ck(Check::Yymmd0)];
const MEASURE: &[Component] = &[n(6)];
const X20: &[Component] = &[x(20)];
const X30: &[Component] = &[x(30)];
const X70: &[Component] = &[x(70)];
const X35PC: &[Component] = &[x(35).ck(Check::PercentEncoded)];
const X70PC: &[Component] = &[x(70).ck(Check::PercentEncoded)];
const N3: &[Component] = &[n(3)];
const N3LIST: &[Component] = &[n(3), n(3).opt(), n(3).opt(), n(3).opt(), n(3).opt()];
const CERT: &[Component] = &[xf(2), x(28)];
const PROCESSOR: &[Component] = &[n(3), x(27)];
const TEMP: &[Component] = &[n(6), xf(1).ck(Check::Hyphen).opt()];
const DATETIME: &[Component] = &[n(6).ck(Check::Yymmd0), n(4).ck(Check::Hhmi)];
const ITIP: &[Component] = &[n(14).ck(Check::Csum), n(4).ck(Check::PieceOfTotal)];
const GMN: &[Component] = &[x(25).ck(Check::CsumAlpha)];
const YESNO: &[Component] = &[n(1).ck(Check::YesNo)];

const TRADE: &[&str] = &["01,02,03,8006,8026"];
const TRADE_NO_03: &[&str] = &["01,02,8006,8026"];
const R01_02: &[&str] = &["01,02"];
const R00_01: &[&str] = &["00,01"];
const R00: &[&str] = &["00"];
const R01: &[&str] = &["01"];
const R01_8006: &[&str] = &["01,8006"];
const R_GSRN: &[&str] = &["8017,8018"];
const R_PRICE_MEASURE: &[&str] = &["30,31nn,32nn,35nn,36nn"];

pub(super) static TABLE: &[AiDef] = &[
    ai("00", "SSCC", "*!?", CSUM18).dl(""),
    ai("01", "GTIN", "*!?", CSUM14)
        .ex("255,37")
        .dl("22,10,21|235"),
    ai("02", "CONTENT", "*?", CSUM14).ex("01,03").req(&["37"]),
    ai("03", "MTO GTIN", "*", CSUM14).ex("01,02,37"),
    ai("10", "BATCH/LOT", "?", X20).req(TRADE),
    ai("11", "PROD DATE", "*?", DATE0).req(TRADE),
    ai("12", "DUE DATE", "*?", DATE0).req(&["8020"]),
    ai("13", "PACK DATE", "*?", DATE0).req(TRADE),
    ai("15", "BEST BEFORE or BEST BY", "*?", DATE0).req(TRADE),
    ai("16", "SELL BY", "*?", DATE0).req(TRADE),
    ai("17", "USE BY or EXPIRY", "*?", DATE0).req(&["01,02,03,255,8006,8026"]),
    ai("20", "VARIANT", "*?", &[n(2)]).req(TRADE_NO_03),
    ai("21", "SERIAL", "", X20).req(&["01,03,8006"]).ex("235"),
    ai("22", "CPV", "", X20).req(R01),
    ai("235", "TPX", "", &[x(28)]).req(R01),
    ai("240", "ADDITIONAL ID", "?", X30).req(TRADE_NO_03),
    ai("241", "CUST. PART No.", "?", X30).req(TRADE_NO_03),
    ai("242", "MTO VARIANT", "?", &[nv(6)]).req(TRADE_NO_03),
    ai("243", "PCN", "?", X20).req(R01),
    ai("250", "SECONDARY SERIAL", "?", X30).req(&["01,8006", "21"]),
    ai("251", "REF. TO SOURCE", "?", X30).req(R01_8006),
    ai("253", "GDTI", "!?", &[n(13).ck(Check::Csum), x(17).opt()]).dl(""),
    ai("254", "GLN EXTENSION COMPONENT", "", X20).req(&["414"]),
    ai("255", "GCN", "!?", &[n(13).ck(Check::Csum), nv(12).opt()])
        .ex("01,02,415,8006,8020,8026")
        .dl(""),
    ai("30", "VAR. COUNT", "?", &[nv(8)]).req(R01_02),
    ai("3100", "NET WEIGHT (kg)", "*?", MEASURE)
        .to("3105")
        .req(R01_02)
        .ex("310n"),
    ai("3110", "LENGTH (m)", "*?", MEASURE)
        .to("3115")
        .req(R01_02)
        .ex("311n"),
    ai("3120", "WIDTH (m)", "*?", MEASURE)
        .to("3125")
        .req(R01_02)
        .ex("312n"),
    ai("3130", "HEIGHT (m)", "*?", MEASURE)
        .to("3135")
        .req(R01_02)
        .ex("313n"),
    ai("3140", "AREA (m²)", "*?", MEASURE)
        .to("3145")
        .req(R01_02)
        .ex("314n"),
    ai("3150", "NET VOLUME (l)", "*?", MEASURE)
        .to("3155")
        .req(R01_02)
        .ex("315n"),
    ai("3160", "NET VOLUME (m³)", "*?", MEASURE)
        .to("3165")
        .req(R01_02)
        .ex("316n"),
    ai("3200", "NET WEIGHT (lb)", "*?", MEASURE)
        .to("3205")
        .req(R01_02)
        .ex("320n"),
    ai("3210", "LENGTH (in)", "*?", MEASURE)
        .to("3215")
        .req(R01_02)
        .ex("321n"),
    ai("3220", "LENGTH (ft)", "*?", MEASURE)
        .to("3225")
        .req(R01_02)
        .ex("322n"),
    ai("3230", "LENGTH (yd)", "*?", MEASURE)
        .to("3235")
        .req(R01_02)
        .ex("323n"),
    ai("3240", "WIDTH (in)", "*?", MEASURE)
        .to("3245")
        .req(R01_02)
        .ex("324n"),
    ai("3250", "WIDTH (ft)", "*?", MEASURE)
        .to("3255")
        .req(R01_02)
        .ex("325n"),
    ai("3260", "WIDTH (yd)", "*?", MEASURE)
        .to("3265")
        .req(R01_02)
        .ex("326n"),
    ai("3270", "HEIGHT (in)", "*?", MEASURE)
        .to("3275")
        .req(R01_02)
        .ex("327n"),
    ai("3280", "HEIGHT (ft)", "*?", MEASURE)
        .to("3285")
        .req(R01_02)
        .ex("328n"),
    ai("3290", "HEIGHT (yd)", "*?", MEASURE)
        .to("3295")
        .req(R01_02)
        .ex("329n"),
    ai("3300", "GROSS WEIGHT (kg)", "*?", MEASURE)
        .to("3305")
        .req(R00_01)
        .ex("330n"),
    ai("3310", "LENGTH (m), log", "*?", MEASURE)
        .to("3315")
        .req(R00_01)
        .ex("331n"),
    ai("3320", "WIDTH (m), log", "*?", MEASURE)
        .to("3325")
        .req(R00_01)
        .ex("332n"),
    ai("3330", "HEIGHT (m), log", "*?", MEASURE)
        .to("3335")
        .req(R00_01)
        .ex("333n"),
    ai("3340", "AREA (m²), log", "*?", MEASURE)
        .to("3345")
        .req(R00_01)
        .ex("334n"),
    ai("3350", "VOLUME (l), log", "*?", MEASURE)
        .to("3355")
        .req(R00_01)
        .ex("335n"),
    ai("3360", "VOLUME (m³), log", "*?", MEASURE)
        .to("3365")
        .req(R00_01)
        .ex("336n"),
    ai("3370", "KG PER m²", "*?", MEASURE)
        .to("3375")
        .req(R01)
        .ex("337n"),
    ai("3400", "GROSS WEIGHT (lb)", "*?", MEASURE)
        .to("3405")
        .req(R00_01)
        .ex("340n"),
    ai("3410", "LENGTH (in), log", "*?", MEASURE)
        .to("3415")
        .req(R00_01)
        .ex("341n"),
    ai("3420", "LENGTH (ft), log", "*?", MEASURE)
        .to("3425")
        .req(R00_01)
        .ex("342n"),
    ai("3430", "LENGTH (yd), log", "*?", MEASURE)
        .to("3435")
        .req(R00_01)
        .ex("343n"),
    ai("3440", "WIDTH (in), log", "*?", MEASURE)
        .to("3445")
        .req(R00_01)
        .ex("344n"),
    ai("3450", "WIDTH (ft), log", "*?", MEASURE)
        .to("3455")
        .req(R00_01)
        .ex("345n"),
    ai("3460", "WIDTH (yd), log", "*?", MEASURE)
        .to("3465")
        .req(R00_01)
        .ex("346n"),
    ai("3470", "HEIGHT (in), log", "*?", MEASURE)
        .to("3475")
        .req(R00_01)
        .ex("347n"),
    ai("3480", "HEIGHT (ft), log", "*?", MEASURE)
        .to("3485")
        .req(R00_01)
        .ex("348n"),
    ai("3490", "HEIGHT (yd), log", "*?", MEASURE)
        .to("3495")
        .req(R00_01)
        .ex("349n"),
    ai("3500", "AREA (in²)", "*?", MEASURE)
        .to("3505")
        .req(R01_02)
        .ex("350n"),
    ai("3510", "AREA (ft²)", "*?", MEASURE)
        .to("3515")
        .req(R01_02)
        .ex("351n"),
    ai("3520", "AREA (yd²)", "*?", MEASURE)
        .to("3525")
        .req(R01_02)
        .ex("352n"),
    ai("3530", "AREA (in²), log", "*?", MEASURE)
        .to("3535")
        .req(R00_01)
        .ex("353n"),
    ai("3540", "AREA (ft²), log", "*?", MEASURE)
        .to("3545")
        .req(R00_01)
        .ex("354n"),
    ai("3550", "AREA (yd²), log", "*?", MEASURE)
        .to("3555")
        .req(R00_01)
        .ex("355n"),
    ai("3560", "NET WEIGHT (t oz)", "*?", MEASURE)
        .to("3565")
        .req(R01_02)
        .ex("356n"),
    ai("3570", "NET VOLUME (oz)", "*?", MEASURE)
        .to("3575")
        .req(R01_02)
        .ex("357n"),
    ai("3600", "NET VOLUME (qt)", "*?", MEASURE)
        .to("3605")
        .req(R01_02)
        .ex("360n"),
    ai("3610", "NET VOLUME (gal.)", "*?", MEASURE)
        .to("3615")
        .req(R01_02)
        .ex("361n"),
    ai("3620", "VOLUME (qt), log", "*?", MEASURE)
        .to("3625")
        .req(R00_01)
        .ex("362n"),
    ai("3630", "VOLUME (gal.), log", "*?", MEASURE)
        .to("3635")
        .req(R00_01)
        .ex("363n"),
    ai("3640", "VOLUME (in³)", "*?", MEASURE)
        .to("3645")
        .req(R01_02)
        .ex("364n"),
    ai("3650", "VOLUME (ft³)", "*?", MEASURE)
        .to("3655")
        .req(R01_02)
        .ex("365n"),
    ai("3660", "VOLUME (yd³)", "*?", MEASURE)
        .to("3665")
        .req(R01_02)
        .ex("366n"),
    ai("3670", "VOLUME (in³), log", "*?", MEASURE)
        .to("3675")
        .req(R00_01)
        .ex("367n"),
    ai("3680", "VOLUME (ft³), log", "*?", MEASURE)
        .to("3685")
        .req(R00_01)
        .ex("368n"),
    ai("3690", "VOLUME (yd³), log", "*?", MEASURE)
        .to("3695")
        .req(R00_01)
        .ex("369n"),
    ai("37", "COUNT", "?", &[nv(8)]).req(&["00", "02,8026"]),
    ai("3900", "AMOUNT", "?", &[nv(15)])
        .to("3909")
        .req(&["255,8020"])
        .ex("390n,391n,394n,8111"),
    ai("3910", "AMOUNT", "?", &[n(3), nv(15)])
        .to("3919")
        .req(&["8020"])
        .ex("391n"),
    ai("3920", "PRICE", "?", &[nv(15)])
        .to("3929")
        .req(&["01", "30,31nn,32nn,35nn,36nn"])
        .ex("392n,393n"),
    ai("3930", "PRICE", "?", &[n(3), nv(15)])
        .to("3939")
        .req(R_PRICE_MEASURE)
        .ex("393n"),
    ai("3940", "PRCNT OFF", "?", &[n(4)])
        .to("3943")
        .req(&["255"])
        .ex("394n,8111"),
    ai("3950", "PRICE/UoM", "?", &[n(6)])
        .to("3955")
        .req(R_PRICE_MEASURE)
        .ex("392n,393n,395n,8005"),
    ai("400", "ORDER NUMBER", "?", X30),
    ai("401", "GINC", "!?", X30).dl(""),
    ai("402", "GSIN", "!?", &[n(17).ck(Check::Csum)]).dl(""),
    ai("403", "ROUTE", "?", X30).req(R00),
    ai("410", "SHIP TO LOC", "*?", CSUM13),
    ai("411", "BILL TO", "*?", CSUM13),
    ai("412", "PURCHASE FROM", "*?", CSUM13),
    ai("413", "SHIP FOR LOC", "*?", CSUM13),
    ai("414", "LOC No.", "*!?", CSUM13).dl("254|7040"),
    ai("415", "PAY TO", "*?", CSUM13).req(&["8020"]).dl("8020"),
    ai("416", "PROD/SERV LOC", "*?", CSUM13),
    ai("417", "PARTY", "*?", CSUM13).dl("7040"),
    ai("420", "SHIP TO POST", "?", X20).ex("421"),
    ai("421", "SHIP TO POST", "?", &[n(3), x(9)]).ex("4307"),
    ai("422", "ORIGIN", "?", N3).req(TRADE_NO_03).ex("426"),
    ai("423", "COUNTRY - INITIAL PROCESS", "?", N3LIST)
        .req(R01_02)
        .ex("426"),
    ai("424", "COUNTRY - PROCESS", "?", N3)
        .req(R01_02)
        .ex("426"),
    ai("425", "COUNTRY - DISASSEMBLY", "?", N3LIST)
        .req(R01_02)
        .ex("426"),
    ai("426", "COUNTRY - FULL PROCESS", "?", N3).req(R01_02),
    ai("427", "ORIGIN SUBDIVISION", "?", &[x(3)]).req(&["01,02", "422"]),
    ai("4300", "SHIP TO COMP", "?", X35PC).req(R00),
    ai("4301", "SHIP TO NAME", "?", X35PC).req(R00),
    ai("4302", "SHIP TO ADD1", "?", X70PC).req(R00),
    ai("4303", "SHIP TO ADD2", "?", X70PC).req(&["4302"]),
    ai("4304", "SHIP TO SUB", "?", X70PC).req(R00),
    ai("4305", "SHIP TO LOC", "?", X70PC).req(R00),
    ai("4306", "SHIP TO REG", "?", X70PC).req(R00),
    ai("4307", "SHIP TO COUNTRY", "?", &[xf(2)]).req(R00),
    ai("4308", "SHIP TO PHONE", "?", X30).req(R00),
    ai(
        "4309",
        "SHIP TO GEO",
        "?",
        &[n(10).ck(Check::Latitude), n(10).ck(Check::Longitude)],
    )
    .req(R00),
    ai("4310", "RTN TO COMP", "?", X35PC).req(R00),
    ai("4311", "RTN TO NAME", "?", X35PC).req(R00),
    ai("4312", "RTN TO ADD1", "?", X70PC).req(R00),
    ai("4313", "RTN TO ADD2", "?", X70PC).req(&["4312"]),
    ai("4314", "RTN TO SUB", "?", X70PC).req(R00),
    ai("4315", "RTN TO LOC", "?", X70PC).req(R00),
    ai("4316", "RTN TO REG", "?", X70PC).req(R00),
    ai("4317", "RTN TO COUNTRY", "?", &[xf(2)]).req(R00),
    ai("4318", "RTN TO POST", "?", X20).req(R00),
    ai("4319", "RTN TO PHONE", "?", X30).req(R00),
    ai("4320", "SRV DESCRIPTION", "?", X35PC).req(R00),
    ai("4321", "DANGEROUS GOODS", "?", YESNO).req(R00),
    ai("4322", "AUTH TO LEAVE", "?", YESNO).req(R00),
    ai("4323", "SIG REQUIRED", "?", YESNO).req(R00),
    ai("4324", "NOT BEF DEL DT", "?", DATETIME).req(R00),
    ai("4325", "NOT AFT DEL DT", "?", DATETIME).req(R00),
    ai("4326", "REL DATE", "?", &[n(6).ck(Check::Yymmdd)]).req(R00),
    ai("4330", "MAX TEMP F.", "?", TEMP).req(R00).ex("4331"),
    ai("4331", "MAX TEMP C.", "?", TEMP).req(R00).ex("4330"),
    ai("4332", "MIN TEMP F.", "?", TEMP).req(R00).ex("4333"),
    ai("4333", "MIN TEMP C.", "?", TEMP).req(R00).ex("4332"),
    ai("7001", "NSN", "?", &[n(13)]).req(TRADE_NO_03),
    ai("7002", "MEAT CUT", "?", X30).req(R01_02),
    ai(
        "7003",
        "EXPIRY TIME",
        "?",
        &[n(6).ck(Check::Yymmdd), n(4).ck(Check::Hhmi)],
    )
    .req(R01_02),
    ai("7004", "ACTIVE POTENCY", "?", &[nv(4)]).req(&["01", "10"]),
    ai("7005", "CATCH AREA", "?", &[x(12)]).req(R01_02),
    ai("7006", "FIRST FREEZE DATE", "?", &[n(6).ck(Check::Yymmdd)]).req(R01_02),
    ai(
        "7007",
        "HARVEST DATE",
        "?",
        &[n(6).ck(Check::Yymmdd), n(6).ck(Check::Yymmdd).opt()],
    )
    .req(R01_02),
    ai("7008", "AQUATIC SPECIES", "?", &[x(3)]).req(R01_02),
    ai("7009", "FISHING GEAR TYPE", "?", &[x(10)]).req(R01_02),
    ai("7010", "PROD METHOD", "?", &[x(2)]).req(R01_02),
    ai(
        "7011",
        "TEST BY DATE",
        "?",
        &[n(6).ck(Check::Yymmdd), n(4).ck(Check::Hhmi).opt()],
    )
    .req(R01_02),
    ai("7020", "REFURB LOT", "?", X20).req(&["01,8006", "416"]),
    ai("7021", "FUNC STAT", "?", X20).req(R01_8006),
    ai("7022", "REV STAT", "?", X20).req(&["7021"]),
    ai("7023", "GIAI - ASSEMBLY", "?", X30),
    ai("7030", "PROCESSOR # 0", "?", PROCESSOR).req(R01_02),
    ai("7031", "PROCESSOR # 1", "?", PROCESSOR).req(R01_02),
    ai("7032", "PROCESSOR # 2", "?", PROCESSOR).req(R01_02),
    ai("7033", "PROCESSOR # 3", "?", PROCESSOR).req(R01_02),
    ai("7034", "PROCESSOR # 4", "?", PROCESSOR).req(R01_02),
    ai("7035", "PROCESSOR # 5", "?", PROCESSOR).req(R01_02),
    ai("7036", "PROCESSOR # 6", "?", PROCESSOR).req(R01_02),
    ai("7037", "PROCESSOR # 7", "?", PROCESSOR).req(R01_02),
    ai("7038", "PROCESSOR # 8", "?", PROCESSOR).req(R01_02),
    ai("7039", "PROCESSOR # 9", "?", PROCESSOR).req(R01_02),
    ai(
        "7040",
        "UIC+EXT",
        "",
        &[n(1), xf(1), xf(1), xf(1).ck(Check::ImporterIdx)],
    ),
    ai("7041", "UFRGT UNIT TYPE", "", &[x(4)]).req(R00),
    ai("710", "NHRN PZN", "?", X20).req(R01),
    ai("711", "NHRN CIP", "?", X20).req(R01),
    ai("712", "NHRN CN", "?", X20).req(R01),
    ai("713", "NHRN DRN", "?", X20).req(R01),
    ai("714", "NHRN AIM", "?", X20).req(R01),
    ai("715", "NHRN NDC", "?", X20).req(R01),
    ai("716", "NHRN AIC", "?", X20).req(R01),
    ai("7230", "CERT # 1", "?", CERT).req(&["01,8004"]),
    ai("7231", "CERT # 2", "?", CERT).req(&["01,8004"]),
    ai("7232", "CERT # 3", "?", CERT).req(&["01,8004"]),
    ai("7233", "CERT # 4", "?", CERT).req(&["01,8004"]),
    ai("7234", "CERT # 5", "?", CERT).req(&["01,8004"]),
    ai("7235", "CERT # 6", "?", CERT).req(&["01,8004"]),
    ai("7236", "CERT # 7", "?", CERT).req(&["01,8004"]),
    ai("7237", "CERT # 8", "?", CERT).req(&["01,8004"]),
    ai("7238", "CERT # 9", "?", CERT).req(&["01,8004"]),
    ai("7239", "CERT # 10", "?", CERT).req(&["01,8004"]),
    ai("7240", "PROTOCOL", "?", X20).req(R01_8006),
    ai("7241", "AIDC MEDIA TYPE", "?", &[n(2)]).req(R_GSRN),
    ai("7242", "VCN", "?", &[x(25)]).req(R_GSRN),
    ai("7250", "DOB", "?", &[n(8).ck(Check::Yyyymmdd)])
        .req(&["8018"])
        .ex("7251"),
    ai(
        "7251",
        "DOB TIME",
        "?",
        &[n(8).ck(Check::Yyyymmdd), n(4).ck(Check::Hhmi)],
    )
    .req(&["8018"])
    .ex("7250"),
    ai("7252", "BIO SEX", "?", &[n(1).ck(Check::Iso5218)]).req(&["8018"]),
    ai(
        "7253",
        "FAMILY NAME",
        "?",
        &[x(40).ck(Check::PercentEncoded)],
    )
    .req(R_GSRN)
    .ex("7256,7259"),
    ai(
        "7254",
        "GIVEN NAME",
        "?",
        &[x(40).ck(Check::PercentEncoded)],
    )
    .req(R_GSRN)
    .ex("7256,7259"),
    ai("7255", "SUFFIX", "?", &[x(10)])
        .req(R_GSRN)
        .ex("7256,7259"),
    ai("7256", "FULL NAME", "?", &[x(90).ck(Check::PercentEncoded)]).req(R_GSRN),
    ai("7257", "PERSON ADDR", "?", X70PC).req(&["8018"]),
    ai(
        "7258",
        "BIRTH SEQUENCE",
        "?",
        &[xf(3).ck(Check::PosInSeqSlash)],
    )
    .req(&["8018+7259"]),
    ai("7259", "BABY", "?", &[x(40).ck(Check::PercentEncoded)])
        .req(&["8018"])
        .ex("7256"),
    ai(
        "8001",
        "DIMENSIONS",
        "?",
        &[
            n(4).ck(Check::NonZero),
            n(5).ck(Check::NonZero),
            n(3).ck(Check::NonZero),
            n(1).ck(Check::Winding),
            n(1),
        ],
    )
    .req(R01),
    ai("8002", "CMT No.", "?", X20),
    ai(
        "8003",
        "GRAI",
        "!?",
        &[n(1).ck(Check::Zero), n(13).ck(Check::Csum), x(16).opt()],
    )
    .dl(""),
    ai("8004", "GIAI", "!?", X30).dl("7040"),
    ai("8005", "PRICE PER UNIT", "?", &[n(6)]).req(R01_02),
    ai("8006", "ITIP", "?", ITIP).ex("01,37").dl("22,10,21"),
    ai("8007", "IBAN", "?", &[x(34).ck(Check::Iban)]).req(&["415"]),
    ai(
        "8008",
        "PROD TIME",
        "?",
        &[
            n(6).ck(Check::Yymmdd),
            n(2).ck(Check::Hh),
            n(2).ck(Check::Mi).opt(),
            n(2).ck(Check::Ss).opt(),
        ],
    )
    .req(R01_02),
    ai("8009", "OPTSEN", "?", &[x(50)]).req(R00_01),
    ai("8010", "CPID", "!?", &[y(30)]).dl("8011"),
    ai("8011", "CPID SERIAL", "", &[nv(12).ck(Check::NoZeroPrefix)]).req(&["8010"]),
    ai("8012", "VERSION", "?", X20).req(R01_8006),
    ai("8013", "GMN", "!?", GMN).dl(""),
    ai("8014", "MUDI", "", &[x(25).ck(Check::CsumAlpha)]).req(R01),
    ai("8017", "GSRN - PROVIDER", "!?", CSUM18)
        .ex("8018")
        .dl("8019"),
    ai("8018", "GSRN - RECIPIENT", "!?", CSUM18)
        .ex("8017")
        .dl("8019"),
    ai("8019", "SRIN", "", &[nv(10)]).req(R_GSRN),
    ai("8020", "REF No.", "", &[x(25)]).req(&["415"]),
    ai("8026", "ITIP CONTENT", "?", ITIP)
        .req(&["37"])
        .ex("02,8006"),
    ai("8030", "DIGSIG", "?", &[z(90)])
        .req(&["00,01+21,253,255,8003,8004,8006+21,8010+8011,8017,8018"]),
    ai("8110", "COUPON", "?", X70),
    ai("8111", "POINTS", "?", &[n(4)]).req(&["255"]),
    ai("8112", "PAPERLESS COUPON", "?", X70),
    ai("8200", "PRODUCT URL", "", X70).req(R01),
    ai("90", "INTERNAL", "?", X30),
    ai("91", "INTERNAL", "?", &[x(90)]).to("99"),
];
