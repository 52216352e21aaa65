# 二级电子身份申请人提示信息（简体中文）。
# 原因编号：reason-<代码>，"_" 换成 "-"。每个编号在四种语言中都必须存在（有测试检查）。

## 申请表

reason-json-invalid = 提交的数据格式不正确。请检查申请表后重新提交。
reason-field-missing = 缺少必填信息。请填写所有必填项。
reason-field-unknown = 申请表中含有不支持的栏目。请检查栏目名称。
reason-field-type-invalid = 申请表中某一栏的数据类型不正确。
reason-name-invalid = 姓名无效。请按护照上的写法填写；拉丁字母姓名只能包含字母 A–Z 和空格。
reason-sex-invalid = 性别无效。请选择 M（男）、F（女）或 X（未指明）。
reason-date-invalid = 日期无效。请按"年-月-日"格式填写（例如 1990-04-12），并核对签发日期和有效期。
reason-nationality-invalid = 国籍无效。请填写 ISO 3166-1 三位字母国家代码（例如 KOR、CHN、USA）。本服务仅面向外国公民。
reason-passport-number-invalid = 护照号码无效。护照号码由 5 至 20 位拉丁字母和数字组成，不含空格。
reason-card-number-invalid = 居留卡号码无效。号码由 6 至 20 位字母和数字组成。
reason-residence-kind-invalid = 居留卡类型无效。请选择临时居留卡或永久居留卡。
reason-address-invalid = 在越南的地址无效。请填写目前的居住地址，不超过 300 个字符。
reason-phone-invalid = 电话号码无效。请填写越南手机号码，例如 0912 345 678 或 +84 912 345 678。
reason-email-invalid = 电子邮箱地址无效。请核对后重新填写，例如 name@example.com。
reason-reception-point-invalid = 受理点无效。请从列表中选择一个受理点。
reason-guardian-id-invalid = 监护人的身份证件号码无效。号码由 5 至 20 位字母和数字组成。
reason-relationship-invalid = 与监护人的关系无效。请选择父母或法定监护人。

## 申请资格

reason-applicant-under-6 = 申请人须年满 6 周岁方可申领二级电子身份。
reason-guardian-required = 未满 14 周岁的申请人须有监护人（父母或法定监护人），监护人须在申请表中登记并陪同办理。
reason-residence-card-expired = 您的居留卡已过期。请先办理续期再申请。
reason-residence-card-not-yet-valid = 您的居留卡尚未生效：卡上的签发日期晚于今天。
reason-already-holds-credential = 您已持有有效的二级电子身份，不能重复申请。

## 国家数据库核验

reason-person-not-found = 在国家出入境数据库中未找到您的信息。请联系出入境管理机关。
reason-card-not-found = 数据库中没有该居留卡号码。请核对号码。
reason-card-revoked = 该居留卡已被吊销。
reason-card-expired = 根据数据库记录，该居留卡已过期。
reason-name-mismatch = 申请表上的姓名与数据库记录不一致。请按护照上的写法填写。
reason-date-of-birth-mismatch = 申请表上的出生日期与数据库记录不一致。
reason-nationality-mismatch = 申请表上的国籍与数据库记录不一致。
reason-passport-mismatch = 申请表上的护照号码与数据库记录不一致。如您已换发新护照，请到出入境管理机关更新信息。
reason-card-kind-mismatch = 申请表上的居留卡类型（临时或永久）与数据库记录不一致。

## 生物特征

reason-biometric-type-invalid = 不接受该文件格式。人像照片须为 JPEG 或 PNG 格式；指纹须为 PNG、JPEG、WSQ 或 ISO/IEC 19794-4 格式。
reason-biometric-too-large = 文件过大（人像照片不超过 5 MiB，每枚指纹不超过 2 MiB）。
reason-biometric-too-small = 文件过小，无法使用。请重新采集。
reason-biometric-quality-invalid = 质量分数必须在 0 到 100 之间。
reason-fingerprint-position-invalid = 手指位置无效。按 ISO/IEC 19794-4，位置编号须为 1 至 10。
reason-fingerprint-position-duplicate = 同一根手指提交了两枚指纹。
reason-fingerprints-missing = 尚未提交任何指纹。请采集指纹。

## 办理流程

reason-application-not-ready = 前一步骤尚未完成，暂时无法办理此步骤。
reason-application-closed = 该申请已办结（已拒绝或已签发），不能再作更改。
reason-step-already-done = 此步骤已经完成。
reason-event-time-invalid = 此操作的时间早于该申请最近一次更新的时间。
reason-actor-invalid = 经办人员编号无效。

## 申请状态

status-submitted = 已受理
status-biometrics-captured = 已采集人像和指纹
status-data-checked = 信息已核验
status-approved = 已批准
status-rejected = 未获批准
status-issued = 电子身份已签发

## 办理指南

guide-how-to-apply = 年满 6 周岁、持有有效临时居留卡或永久居留卡的外国人，可到受理点（省级公安机关、工业区、国际学校或居民区）提交 TK01 申请表。工作人员将为您拍摄人像照片、采集指纹，并通过国家数据库核验您的信息。
guide-documents = 请携带：护照或可替代护照的证件；有效的临时居留卡或永久居留卡；填写完整的 TK01 申请表；正在使用的越南手机号码和电子邮箱。未满 14 周岁的申请人须由父母或法定监护人陪同，监护人须携带本人身份证件。
guide-biometrics-appointment = 您的生物特征采集预约：{ $date }，地点：{ $point }。请携带护照和居留卡；拍照时请摘下眼镜和帽子。
guide-wallet = 申请获批后，您会收到短信和电子邮件通知。打开身份钱包应用，用申请表上登记的手机号码登录，选择"领取电子身份"即可下载。手机上的二维码在没有网络时也能使用。
deadline-notice = 您的申请将在 { $days } 个工作日内办结，最迟不晚于 { $date }。

## 接口自身的错误代码（办事人员、电子钱包和申请人可能会看到）

api-unauthorized = 请先登录：此请求需要有效的访问令牌。
api-forbidden = 您无权执行此操作。办事人员只能处理本受理点的申请。
api-not-found = 此地址下没有找到任何内容。
api-internal-error = 系统出现故障，请稍后再试；如问题持续，请联系受理点。
api-invalid-request = 请求格式不正确。
api-invalid-application = 申请表有错误。请更正所列字段后重新提交。
api-not-eligible = 由于所列原因，申请人目前不能获得二级电子身份。
api-application-exists = 此人的申请正在办理中。
api-invalid-biometrics = 肖像照片或指纹不符合要求，请重新采集。
api-national-check-failed = 国家数据核查发现与登记信息不一致，请与申请人核对证件。
api-field-invalid = 请求中的某个值无效。
api-invalid-grant = 此领取邀请无效：已被使用或已过期。请向受理点申请新的邀请。
api-invalid-token = 访问令牌无效或已过期，请重新领取电子身份。
api-invalid-proof = 电子钱包无法证明其持有设备密钥，请在钱包中重试。
api-unsupported-grant-type = 不支持此授权方式。
api-unsupported-credential-type = 此处不提供这种凭证。
api-key-transition-refused = 此密钥不能转换到该状态。
api-credential-revoked = 此电子身份已被撤销，无法恢复。
api-application-changed = 此申请刚刚被他人同时修改。请重新加载后再试。
api-busy = 服务当前繁忙，请稍后再试。
api-insufficient-storage = 服务暂时无法保存数据（存储空间已满）。未做任何更改，请稍后再试。
api-status-changed = 此电子身份的状态刚刚被他人同时修改。请重新加载后再试。
api-last-admin = 这是最后一个有效的管理员令牌，请先创建另一个管理员。
api-method-not-allowed = 此地址不接受该请求方法。
api-unsupported-media-type = 请求内容的格式不被此地址接受。
api-payload-too-large = 请求内容过大。
api-idempotency-key-reused = 此 Idempotency-Key 已用于另一个请求。新请求请使用新的键。
api-idempotency-key-invalid = Idempotency-Key 请求头须为 1 至 255 个可见字符。

## 面向钱包的接口（OAuth / OpenID4VCI 1.0）：错误说明、凭证邀请中的交易码提示、交易码通知
## （短信和电子邮件），以及发行方元数据中的凭证显示信息。
api-invalid-nonce = 证明中的随机数（nonce）未知、已被使用、已过期或属于其他会话。请向发行方申请新的随机数后重试。
api-invalid-credential-request = 凭证请求的格式不正确。
api-unknown-credential-configuration = 此处不提供该凭证配置。
api-unknown-credential-identifier = 该凭证标识符未知。
api-invalid-encryption-parameters = 此处不提供加密的凭证响应；请在请求中去掉加密参数。
api-credential-request-denied = 无法签发凭证：申请人已不再符合条件。请联系受理点。
api-temporarily-unavailable = 服务当前繁忙，请稍后再试。
api-server-error = 我们这边出现了问题，请稍后再试。
api-tx-code-required = 此邀请需要交易码，该交易码已通过短信和电子邮件发送给您，或由工作人员交给您。
api-tx-code-wrong = 交易码错误。再输错 { $left } 次，此邀请将被取消。
api-offer-locked = 交易码输错次数过多：此邀请已失效。请联系受理点重新发放邀请。
api-offer-needs-renewal = 此邀请创建于启用交易码之前。请联系受理点重新发放邀请。
api-offer-tx-code-hint = 请输入通过短信和电子邮件发送给您、或由工作人员交给您的 { $length } 位交易码。
api-notify-tx-code-subject = 二级电子身份：交易码
api-notify-tx-code = 您领取二级电子身份的交易码是 { $code }。请在钱包提示时输入。有效期至 { $date }。切勿告诉任何人：工作人员绝不会向您索要此交易码。
api-metadata-credential-name = 二级电子身份（外国居民）
api-metadata-credential-description = 在越南居住的外国人的二级电子身份，附带面向房东、银行和居住登记机关的按用途QR证明。
api-metadata-claim-name = 姓名（原文）
api-metadata-claim-name-latin = 姓名（拉丁字母）
api-metadata-claim-birth-date = 出生日期
api-metadata-claim-sex = 性别
api-metadata-claim-nationality = 国籍
api-metadata-claim-passport-number = 护照号码
api-metadata-claim-residence-card-number = 居留卡号码
api-metadata-claim-residence-card-kind = 居留卡类型
api-metadata-claim-residence-card-expiry = 居留卡有效期至
api-metadata-claim-address = 在越南的地址
api-metadata-claim-eid-number = 个人识别号码
api-metadata-claim-age-over-18 = 已满18岁
api-metadata-claim-assurance-level = 身份保证等级

# 密钥保管（签发机构管理员）。
api-key-not-synced = 此密钥在已发布的信任列表中的时间还不够长，验证方可能尚未获知。请等到所示时间，或在紧急情况下强制启用。
api-key-not-revoked = 只有已吊销密钥所签发的凭证才会重新签发。请先吊销该密钥。
api-trust-list-signed-here = 开发模式下本签发机构自行签署信任列表；准备并上传信任列表仅用于生产模式。
api-trust-list-not-prepared = 尚未准备信任列表。请先下载待签信任列表，离线签署后再上传。
api-trust-list-signature = 此信任列表无法用固定的根密钥验证，未予发布。
api-trust-list-mismatch = 此已签署的信任列表不是本签发机构准备的列表（版本较旧或已被修改）。请重新下载待签信任列表并签署该列表。
api-trust-list-outdated = 已发布了更新的信任列表。
api-trust-list-unavailable = 尚未发布已签署的信任列表。请稍后再试。
api-notify-reoffer-subject = 您需要重新领取二级电子身份
api-notify-reoffer = 由于签署您二级电子身份的一个密钥已被撤回，您的电子身份需要重新签发。请在钱包中打开我们发送给您的链接，并输入交易码 { $code }。有效期至 { $date }。切勿告诉任何人：工作人员绝不会向您索要此交易码。
