# 레벨 2 전자신원 신청자 안내 메시지(한국어).
# 사유 ID: reason-<코드>, "_"는 "-"로 바꿉니다. 모든 ID는 네 언어에 모두 있어야 합니다(테스트로 확인).

## 신청서

reason-json-invalid = 제출된 데이터의 형식이 올바르지 않습니다. 신청서를 확인한 후 다시 제출해 주세요.
reason-field-missing = 필수 정보가 빠져 있습니다. 모든 필수 항목을 입력해 주세요.
reason-field-unknown = 신청서에 지원되지 않는 항목이 있습니다. 항목 이름을 확인해 주세요.
reason-field-type-invalid = 신청서의 한 항목에 형식이 맞지 않는 값이 입력되었습니다.
reason-name-invalid = 이름이 올바르지 않습니다. 여권에 적힌 그대로 입력해 주세요. 로마자 이름에는 A–Z 영문자와 공백만 쓸 수 있습니다.
reason-sex-invalid = 성별이 올바르지 않습니다. M(남성), F(여성), X(미지정) 중에서 선택해 주세요.
reason-date-invalid = 날짜가 올바르지 않습니다. 연-월-일 형식(예: 1990-04-12)으로 입력하고 발급일과 만료일을 확인해 주세요.
reason-nationality-invalid = 국적이 올바르지 않습니다. ISO 3166-1 세 글자 국가 코드(예: KOR, CHN, USA)를 입력해 주세요. 이 서비스는 외국인을 위한 것입니다.
reason-passport-number-invalid = 여권 번호가 올바르지 않습니다. 여권 번호는 공백 없이 5~20자리의 영문자와 숫자로 되어 있습니다.
reason-card-number-invalid = 거주증 번호가 올바르지 않습니다. 거주증 번호는 6~20자리의 영문자와 숫자로 되어 있습니다.
reason-residence-kind-invalid = 거주증 종류가 올바르지 않습니다. 임시거주증 또는 영주거주증 중에서 선택해 주세요.
reason-address-invalid = 베트남 내 주소가 올바르지 않습니다. 현재 사는 곳의 주소를 300자 이내로 입력해 주세요.
reason-phone-invalid = 전화번호가 올바르지 않습니다. 베트남 휴대전화 번호를 입력해 주세요(예: 0912 345 678 또는 +84 912 345 678).
reason-email-invalid = 이메일 주소가 올바르지 않습니다. 다시 확인해 주세요(예: name@example.com).
reason-reception-point-invalid = 접수처가 올바르지 않습니다. 목록에서 접수처를 선택해 주세요.
reason-guardian-id-invalid = 보호자의 신분증 번호가 올바르지 않습니다. 번호는 5~20자리의 영문자와 숫자로 되어 있습니다.
reason-relationship-invalid = 보호자와의 관계가 올바르지 않습니다. 부모 또는 법정후견인 중에서 선택해 주세요.

## 신청 자격

reason-applicant-under-6 = 레벨 2 전자신원은 만 6세 이상부터 신청할 수 있습니다.
reason-guardian-required = 만 14세 미만 신청자는 보호자(부모 또는 법정후견인)가 있어야 합니다. 신청서에 보호자 정보를 기재하고 보호자와 함께 방문해 주세요.
reason-residence-card-expired = 거주증이 만료되었습니다. 거주증을 갱신한 후 신청해 주세요.
reason-residence-card-not-yet-valid = 거주증이 아직 유효하지 않습니다. 거주증의 발급일이 오늘 이후로 되어 있습니다.
reason-already-holds-credential = 이미 유효한 레벨 2 전자신원을 가지고 있어 추가로 신청할 수 없습니다.

## 국가 데이터베이스 확인

reason-person-not-found = 국가 출입국 데이터베이스에서 신청자 정보를 찾을 수 없습니다. 출입국관리 기관에 문의해 주세요.
reason-card-not-found = 데이터베이스에 이 거주증 번호가 없습니다. 번호를 확인해 주세요.
reason-card-revoked = 이 거주증은 취소되었습니다.
reason-card-expired = 데이터베이스 기록에 따르면 이 거주증은 만료되었습니다.
reason-name-mismatch = 신청서의 이름이 데이터베이스 기록과 다릅니다. 여권에 적힌 그대로 입력해 주세요.
reason-date-of-birth-mismatch = 신청서의 생년월일이 데이터베이스 기록과 다릅니다.
reason-nationality-mismatch = 신청서의 국적이 데이터베이스 기록과 다릅니다.
reason-passport-mismatch = 신청서의 여권 번호가 데이터베이스 기록과 다릅니다. 여권을 새로 발급받았다면 출입국관리 기관에서 정보를 갱신해 주세요.
reason-card-kind-mismatch = 신청서의 거주증 종류(임시 또는 영주)가 데이터베이스 기록과 다릅니다.

## 생체정보

reason-biometric-type-invalid = 허용되지 않는 파일 형식입니다. 얼굴 사진은 JPEG 또는 PNG, 지문은 PNG, JPEG, WSQ 또는 ISO/IEC 19794-4 형식이어야 합니다.
reason-biometric-too-large = 파일이 너무 큽니다(얼굴 사진은 최대 5 MiB, 지문은 한 개당 최대 2 MiB).
reason-biometric-too-small = 파일이 너무 작아 사용할 수 없습니다. 다시 채취해 주세요.
reason-biometric-quality-invalid = 품질 점수는 0에서 100 사이여야 합니다.
reason-fingerprint-position-invalid = 손가락 위치가 올바르지 않습니다. ISO/IEC 19794-4에 따라 1에서 10 사이여야 합니다.
reason-fingerprint-position-duplicate = 같은 손가락의 지문이 두 번 제출되었습니다.
reason-fingerprints-missing = 제출된 지문이 없습니다. 지문을 채취해 주세요.

## 처리 절차

reason-application-not-ready = 이전 단계가 끝나지 않아 아직 이 단계를 진행할 수 없습니다.
reason-application-closed = 이 신청은 이미 종료되어(거절 또는 발급 완료) 더 이상 변경할 수 없습니다.
reason-step-already-done = 이 단계는 이미 처리되었습니다.
reason-event-time-invalid = 이 작업의 시각이 신청서의 마지막 변경 시각보다 앞섭니다.
reason-actor-invalid = 담당 공무원 ID가 올바르지 않습니다.

## 신청 상태

status-submitted = 접수 완료
status-biometrics-captured = 얼굴 사진 및 지문 채취 완료
status-data-checked = 정보 확인 완료
status-approved = 승인
status-rejected = 승인 거부
status-issued = 전자신원 발급 완료

## 안내

guide-how-to-apply = 유효한 임시거주증 또는 영주거주증을 가진 만 6세 이상 외국인은 접수처(성 공안, 산업단지, 국제학교 또는 주거 지역)를 방문하여 TK01 신청서를 제출하면 됩니다. 담당 공무원이 얼굴 사진을 찍고 지문을 채취한 뒤 국가 데이터베이스에서 신청자 정보를 확인합니다.
guide-documents = 준비물: 여권 또는 여권을 대신하는 서류, 유효한 임시거주증 또는 영주거주증, 작성을 마친 TK01 신청서, 사용 중인 베트남 휴대전화 번호와 이메일 주소. 만 14세 미만 신청자는 부모 또는 법정후견인과 함께 방문해야 하며, 보호자는 본인의 신분증을 지참해야 합니다.
guide-biometrics-appointment = 생체정보 채취 예약: { $date }, 장소: { $point }. 여권과 거주증을 지참해 주시고, 사진 촬영 때는 안경과 모자를 벗어 주세요.
guide-wallet = 신청이 승인되면 문자 메시지와 이메일로 알려 드립니다. 신원 지갑 앱을 열어 신청서에 적은 전화번호로 로그인한 뒤 "전자신원 받기"를 눌러 내려받으세요. 휴대전화의 QR 코드는 인터넷에 연결되어 있지 않아도 쓸 수 있습니다.
deadline-notice = 신청은 근무일 기준 { $days }일 이내, 늦어도 { $date }까지 처리됩니다.

## API 자체 오류 코드 (담당 공무원, 전자지갑, 신청인이 볼 수 있음)

api-unauthorized = 로그인해 주세요. 이 요청에는 유효한 액세스 토큰이 필요합니다.
api-forbidden = 이 작업을 수행할 권한이 없습니다. 담당 공무원은 소속 접수처의 신청서만 처리할 수 있습니다.
api-not-found = 이 주소에서 찾을 수 있는 내용이 없습니다.
api-internal-error = 시스템에 문제가 발생했습니다. 잠시 후 다시 시도해 주세요. 문제가 계속되면 접수처에 문의해 주세요.
api-invalid-request = 요청 형식이 올바르지 않습니다.
api-invalid-application = 신청서에 오류가 있습니다. 표시된 항목을 수정하여 다시 제출해 주세요.
api-not-eligible = 표시된 사유로 인해 신청인은 현재 2단계 전자신분증을 발급받을 수 없습니다.
api-application-exists = 이 사람의 신청이 이미 처리 중입니다.
api-invalid-biometrics = 얼굴 사진 또는 지문을 받을 수 없습니다. 다시 채취해 주세요.
api-national-check-failed = 국가 데이터 확인 결과 등록 정보와 일치하지 않는 부분이 있습니다. 신청인과 함께 서류를 확인해 주세요.
api-field-invalid = 요청의 값 중 하나가 올바르지 않습니다.
api-invalid-grant = 이 발급 안내는 유효하지 않습니다. 이미 사용되었거나 만료되었습니다. 접수처에 새 안내를 요청해 주세요.
api-invalid-token = 액세스 토큰이 유효하지 않거나 만료되었습니다. 전자신분증 수령을 다시 시작해 주세요.
api-invalid-proof = 전자지갑이 기기 키를 보유하고 있음을 증명하지 못했습니다. 전자지갑에서 다시 시도해 주세요.
api-unsupported-grant-type = 이 인증 방식은 지원되지 않습니다.
api-unsupported-credential-type = 이 종류의 증명서는 여기에서 제공되지 않습니다.
api-key-transition-refused = 이 키는 해당 상태로 변경할 수 없습니다.
api-credential-revoked = 이 전자신분증은 취소되었으며 복구할 수 없습니다.
api-application-changed = 다른 사람이 같은 시각에 이 신청서를 변경했습니다. 다시 불러온 후 다시 시도해 주세요.
api-busy = 지금 서비스가 혼잡합니다. 잠시 후 다시 시도해 주세요.
api-insufficient-storage = 저장 공간이 가득 차 지금은 서비스가 데이터를 저장할 수 없습니다. 변경된 내용은 없으니 나중에 다시 시도해 주세요.
api-status-changed = 다른 사람이 같은 시각에 이 전자신분증의 상태를 변경했습니다. 다시 불러온 후 다시 시도해 주세요.
api-last-admin = 마지막으로 남은 유효한 관리자 토큰입니다. 먼저 다른 관리자를 만드세요.
api-method-not-allowed = 이 주소는 해당 요청 방식을 받지 않습니다.
api-unsupported-media-type = 요청 본문이 이 주소가 받는 형식이 아닙니다.
api-payload-too-large = 요청 본문이 너무 큽니다.
api-idempotency-key-reused = 이 Idempotency-Key는 이미 다른 요청에 사용되었습니다. 새 요청에는 새 키를 사용하세요.
api-idempotency-key-invalid = Idempotency-Key 헤더는 보이는 문자 1~255자여야 합니다.

## 지갑용 엔드포인트(OAuth / OpenID4VCI 1.0): 오류 설명, 발급 제안의 거래 코드 안내, 거래 코드
## 알림(SMS 및 이메일), 발급자 메타데이터의 전자신분증 표시 정보.
api-invalid-nonce = 증명에 포함된 논스(nonce)를 알 수 없거나, 이미 사용되었거나, 만료되었거나, 다른 세션의 것입니다. 발급자에게 새 논스를 받아 다시 시도해 주세요.
api-invalid-credential-request = 발급 요청의 형식이 올바르지 않습니다.
api-unknown-credential-configuration = 이 전자신분증 구성은 여기에서 제공되지 않습니다.
api-unknown-credential-identifier = 알 수 없는 전자신분증 식별자입니다.
api-invalid-encryption-parameters = 여기에서는 암호화된 발급 응답을 제공하지 않습니다. 암호화 매개변수 없이 요청해 주세요.
api-credential-request-denied = 전자신분증을 발급할 수 없습니다. 신청인이 더 이상 자격 요건을 충족하지 않습니다. 접수처에 문의해 주세요.
api-temporarily-unavailable = 지금은 서비스가 혼잡합니다. 잠시 후 다시 시도해 주세요.
api-server-error = 저희 쪽에서 문제가 발생했습니다. 나중에 다시 시도해 주세요.
api-tx-code-required = 이 발급 제안에는 SMS와 이메일로 보내 드렸거나 담당 공무원이 알려 드린 거래 코드가 필요합니다.
api-tx-code-wrong = 거래 코드가 틀렸습니다. { $left }번 더 틀리면 이 발급 제안이 취소됩니다.
api-offer-locked = 거래 코드를 너무 많이 틀렸습니다. 이 발급 제안은 더 이상 사용할 수 없습니다. 접수처에 새 제안을 요청해 주세요.
api-offer-needs-renewal = 이 발급 제안은 거래 코드가 도입되기 전에 만들어졌습니다. 접수처에 새 제안을 요청해 주세요.
api-offer-tx-code-hint = SMS와 이메일로 보내 드렸거나 담당 공무원이 알려 드린 { $length }자리 거래 코드를 입력하세요.
api-notify-tx-code-subject = 2단계 전자신분증: 거래 코드
api-notify-tx-code = 2단계 전자신분증을 받기 위한 거래 코드는 { $code }입니다. 지갑에서 요청하면 입력하세요. { $date }까지 유효합니다. 누구에게도 알려 주지 마세요. 직원은 절대 이 코드를 묻지 않습니다.
api-metadata-credential-name = 2단계 전자신분증(외국인 거주자)
api-metadata-credential-description = 베트남에 거주하는 외국인의 2단계 전자신분증으로, 집주인·은행·거주 등록 기관을 위한 용도별 QR 증명이 포함됩니다.
api-metadata-claim-name = 이름(원어 표기)
api-metadata-claim-name-latin = 이름(라틴 문자)
api-metadata-claim-birth-date = 생년월일
api-metadata-claim-sex = 성별
api-metadata-claim-nationality = 국적
api-metadata-claim-passport-number = 여권 번호
api-metadata-claim-residence-card-number = 체류증 번호
api-metadata-claim-residence-card-kind = 체류증 종류
api-metadata-claim-residence-card-expiry = 체류증 유효 기간
api-metadata-claim-address = 베트남 내 주소
api-metadata-claim-eid-number = 개인 식별 번호
api-metadata-claim-age-over-18 = 만 18세 이상
api-metadata-claim-assurance-level = 신원 보증 수준

# 키 보관 (발급 기관 관리자).
api-key-not-synced = 이 키는 검증자가 알 수 있을 만큼 오래 공개된 신뢰 목록에 포함되지 않았습니다. 안내된 시각까지 기다리거나, 긴급 상황이면 강제로 활성화하세요.
api-key-not-revoked = 폐기된 키로 서명된 자격 증명만 재발급됩니다. 먼저 키를 폐기하세요.
api-trust-list-signed-here = 개발 모드에서는 이 발급 기관이 신뢰 목록에 직접 서명합니다. 신뢰 목록을 준비하고 업로드하는 것은 운영 모드용입니다.
api-trust-list-not-prepared = 준비된 신뢰 목록이 없습니다. 대기 중인 신뢰 목록을 먼저 내려받아 오프라인에서 서명한 뒤 업로드하세요.
api-trust-list-signature = 이 신뢰 목록은 고정된 루트 키로 검증되지 않습니다. 공개되지 않았습니다.
api-trust-list-mismatch = 이 서명된 신뢰 목록은 이 발급 기관이 준비한 목록이 아닙니다(더 오래되었거나 변경됨). 대기 중인 신뢰 목록을 다시 내려받아 그 목록에 서명하세요.
api-trust-list-outdated = 더 새로운 신뢰 목록이 이미 공개되었습니다.
api-trust-list-unavailable = 아직 서명된 신뢰 목록이 공개되지 않았습니다. 나중에 다시 시도해 주세요.
api-notify-reoffer-subject = 2단계 전자신분증을 다시 받아야 합니다
api-notify-reoffer = 2단계 전자신분증에 서명한 키가 회수되어 전자신분증을 다시 발급해야 합니다. 보내 드린 링크를 지갑에서 열고 거래 코드 { $code }를 입력하세요. { $date }까지 유효합니다. 누구에게도 알려 주지 마세요. 직원은 절대 이 코드를 묻지 않습니다.
