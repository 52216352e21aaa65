# Thông báo cho người đề nghị cấp định danh điện tử mức độ 2 (tiếng Việt, ngôn ngữ mặc định).
# Mã lý do: reason-<mã>, dấu "_" thay bằng "-". Mọi mã phải có mặt ở cả bốn ngôn ngữ (có kiểm thử).

## Tờ khai

reason-json-invalid = Nội dung gửi lên không đúng định dạng. Vui lòng kiểm tra lại tờ khai và gửi lại.
reason-field-missing = Còn thiếu thông tin bắt buộc. Vui lòng điền đầy đủ các mục bắt buộc.
reason-field-unknown = Tờ khai có mục không được hỗ trợ. Vui lòng kiểm tra lại tên các mục.
reason-field-type-invalid = Một mục trong tờ khai có giá trị không đúng kiểu dữ liệu.
reason-name-invalid = Họ và tên không hợp lệ. Vui lòng ghi đúng như trong hộ chiếu; họ tên bằng chữ Latinh chỉ gồm các chữ cái A–Z và dấu cách.
reason-sex-invalid = Giới tính không hợp lệ. Vui lòng chọn M (nam), F (nữ) hoặc X (không xác định).
reason-date-invalid = Ngày tháng không hợp lệ. Vui lòng ghi theo dạng năm-tháng-ngày (ví dụ 1990-04-12) và kiểm tra lại ngày cấp, ngày hết hạn.
reason-nationality-invalid = Quốc tịch không hợp lệ. Vui lòng ghi mã quốc gia gồm 3 chữ cái theo ISO 3166-1 (ví dụ KOR, CHN, USA). Dịch vụ này dành cho người nước ngoài.
reason-passport-number-invalid = Số hộ chiếu không hợp lệ. Số hộ chiếu gồm 5 đến 20 chữ cái Latinh và chữ số, không có dấu cách.
reason-card-number-invalid = Số thẻ tạm trú/thường trú không hợp lệ. Số thẻ gồm 6 đến 20 chữ cái và chữ số.
reason-residence-kind-invalid = Loại thẻ không hợp lệ. Vui lòng chọn thẻ tạm trú hoặc thẻ thường trú.
reason-address-invalid = Địa chỉ tại Việt Nam không hợp lệ. Vui lòng ghi địa chỉ nơi ở hiện tại, tối đa 300 ký tự.
reason-phone-invalid = Số điện thoại không hợp lệ. Vui lòng ghi số di động Việt Nam, ví dụ 0912 345 678 hoặc +84 912 345 678.
reason-email-invalid = Địa chỉ thư điện tử không hợp lệ. Vui lòng kiểm tra lại, ví dụ ten@example.com.
reason-reception-point-invalid = Điểm tiếp nhận không hợp lệ. Vui lòng chọn một điểm tiếp nhận trong danh sách.
reason-guardian-id-invalid = Số giấy tờ tùy thân của người giám hộ không hợp lệ. Số giấy tờ gồm 5 đến 20 chữ cái và chữ số.
reason-relationship-invalid = Quan hệ với người giám hộ không hợp lệ. Vui lòng chọn cha/mẹ hoặc người giám hộ hợp pháp.

## Điều kiện cấp

reason-applicant-under-6 = Người đề nghị chưa đủ 6 tuổi nên chưa thuộc diện được cấp định danh điện tử mức độ 2.
reason-guardian-required = Người đề nghị dưới 14 tuổi phải có người giám hộ (cha, mẹ hoặc người giám hộ hợp pháp) kê khai trong tờ khai và đi cùng khi làm thủ tục.
reason-residence-card-expired = Thẻ tạm trú/thường trú đã hết hạn. Vui lòng làm thủ tục gia hạn hoặc cấp mới thẻ trước khi đề nghị.
reason-residence-card-not-yet-valid = Thẻ tạm trú/thường trú chưa có hiệu lực: ngày cấp ghi trên thẻ là một ngày trong tương lai.
reason-already-holds-credential = Bạn đang có định danh điện tử mức độ 2 còn hiệu lực nên không thể đề nghị cấp thêm.

## Đối chiếu cơ sở dữ liệu quốc gia

reason-person-not-found = Không tìm thấy thông tin của bạn trong cơ sở dữ liệu quốc gia về xuất nhập cảnh. Vui lòng liên hệ cơ quan quản lý xuất nhập cảnh.
reason-card-not-found = Không tìm thấy số thẻ tạm trú/thường trú này trong cơ sở dữ liệu. Vui lòng kiểm tra lại số thẻ.
reason-card-revoked = Thẻ tạm trú/thường trú này đã bị thu hồi.
reason-card-expired = Theo cơ sở dữ liệu, thẻ tạm trú/thường trú này đã hết hạn.
reason-name-mismatch = Họ tên kê khai không khớp với thông tin trong cơ sở dữ liệu. Vui lòng ghi đúng như trong hộ chiếu.
reason-date-of-birth-mismatch = Ngày sinh kê khai không khớp với thông tin trong cơ sở dữ liệu.
reason-nationality-mismatch = Quốc tịch kê khai không khớp với thông tin trong cơ sở dữ liệu.
reason-passport-mismatch = Số hộ chiếu kê khai không khớp với thông tin trong cơ sở dữ liệu. Nếu bạn đã đổi hộ chiếu mới, vui lòng cập nhật tại cơ quan quản lý xuất nhập cảnh.
reason-card-kind-mismatch = Loại thẻ (tạm trú hoặc thường trú) kê khai không khớp với thông tin trong cơ sở dữ liệu.

## Sinh trắc học

reason-biometric-type-invalid = Định dạng tệp không được chấp nhận. Ảnh chân dung phải là JPEG hoặc PNG; vân tay phải là PNG, JPEG, WSQ hoặc ISO/IEC 19794-4.
reason-biometric-too-large = Tệp quá lớn (ảnh chân dung tối đa 5 MiB, mỗi vân tay tối đa 2 MiB).
reason-biometric-too-small = Tệp quá nhỏ, không sử dụng được. Vui lòng thu nhận lại.
reason-biometric-quality-invalid = Điểm chất lượng phải nằm trong khoảng từ 0 đến 100.
reason-fingerprint-position-invalid = Vị trí ngón tay không hợp lệ. Vị trí phải từ 1 đến 10 theo ISO/IEC 19794-4.
reason-fingerprint-position-duplicate = Có hai bản vân tay của cùng một ngón tay.
reason-fingerprints-missing = Chưa có bản vân tay nào. Vui lòng thu nhận vân tay.

## Quy trình xử lý hồ sơ

reason-application-not-ready = Hồ sơ chưa hoàn thành bước trước nên chưa thể thực hiện bước này.
reason-application-closed = Hồ sơ đã kết thúc (đã từ chối hoặc đã cấp), không thể thay đổi thêm.
reason-step-already-done = Bước này đã được thực hiện trước đó.
reason-event-time-invalid = Thời điểm thao tác sớm hơn lần cập nhật gần nhất của hồ sơ.
reason-actor-invalid = Mã cán bộ thực hiện không hợp lệ.

## Trạng thái hồ sơ

status-submitted = Đã tiếp nhận hồ sơ
status-biometrics-captured = Đã thu nhận ảnh chân dung và vân tay
status-data-checked = Đã kiểm tra, đối chiếu thông tin
status-approved = Đã phê duyệt
status-rejected = Không được phê duyệt
status-issued = Đã cấp định danh điện tử

## Hướng dẫn

guide-how-to-apply = Người nước ngoài từ đủ 6 tuổi trở lên, có thẻ tạm trú hoặc thẻ thường trú còn hạn, đến một điểm tiếp nhận (Công an cấp tỉnh, khu công nghiệp, trường quốc tế hoặc khu dân cư) để nộp Tờ khai TK01. Cán bộ sẽ chụp ảnh chân dung, thu nhận vân tay và đối chiếu thông tin của bạn với cơ sở dữ liệu quốc gia.
guide-documents = Vui lòng mang theo: hộ chiếu hoặc giấy tờ có giá trị thay hộ chiếu; thẻ tạm trú hoặc thẻ thường trú còn hạn; Tờ khai TK01 đã điền đầy đủ; số điện thoại di động Việt Nam và địa chỉ thư điện tử đang sử dụng. Người dưới 14 tuổi phải có cha, mẹ hoặc người giám hộ đi cùng, mang theo giấy tờ tùy thân của người giám hộ.
guide-biometrics-appointment = Lịch hẹn thu nhận sinh trắc học của bạn: ngày { $date } tại { $point }. Vui lòng mang theo hộ chiếu và thẻ cư trú; khi chụp ảnh không đeo kính, không đội mũ.
guide-wallet = Khi hồ sơ được phê duyệt, bạn sẽ nhận được tin nhắn và thư điện tử thông báo. Hãy mở ứng dụng ví định danh, đăng nhập bằng số điện thoại đã kê khai và chọn "Nhận định danh điện tử" để tải về. Mã QR trên điện thoại vẫn dùng được khi không có mạng.
deadline-notice = Hồ sơ của bạn sẽ được giải quyết trong { $days } ngày làm việc, chậm nhất vào ngày { $date }.

## Mã lỗi riêng của API (cán bộ, ví điện tử và người nộp hồ sơ có thể thấy)

api-unauthorized = Vui lòng đăng nhập: yêu cầu này cần mã truy cập hợp lệ.
api-forbidden = Bạn không có quyền thực hiện thao tác này. Cán bộ chỉ xử lý hồ sơ của điểm tiếp nhận của mình.
api-not-found = Không tìm thấy nội dung tại địa chỉ này.
api-internal-error = Hệ thống đang gặp sự cố. Vui lòng thử lại sau; nếu vẫn lỗi, hãy liên hệ điểm tiếp nhận.
api-invalid-request = Yêu cầu không đúng định dạng.
api-invalid-application = Tờ khai có lỗi. Vui lòng sửa các trường được liệt kê và gửi lại.
api-not-eligible = Người nộp hồ sơ hiện chưa đủ điều kiện được cấp tài khoản định danh điện tử mức độ 2, vì các lý do được liệt kê.
api-application-exists = Hồ sơ của người này đang được xử lý.
api-invalid-biometrics = Ảnh chân dung hoặc vân tay không đạt yêu cầu. Vui lòng thu nhận lại.
api-national-check-failed = Kiểm tra dữ liệu quốc gia phát hiện thông tin không khớp với cơ sở dữ liệu. Vui lòng đối chiếu lại giấy tờ với người nộp hồ sơ.
api-field-invalid = Một giá trị trong yêu cầu không hợp lệ.
api-invalid-grant = Lời mời nhận tài khoản không hợp lệ: đã được sử dụng hoặc đã hết hạn. Vui lòng đề nghị điểm tiếp nhận cấp lời mời mới.
api-invalid-token = Mã truy cập không hợp lệ hoặc đã hết hạn. Vui lòng thực hiện lại việc nhận tài khoản.
api-invalid-proof = Ví điện tử không chứng minh được việc nắm giữ khóa thiết bị. Vui lòng thử lại từ ví.
api-unsupported-grant-type = Hình thức cấp quyền này không được hỗ trợ.
api-unsupported-credential-type = Loại chứng thực này không được cung cấp tại đây.
api-key-transition-refused = Khóa này không thể chuyển sang trạng thái đó.
api-credential-revoked = Tài khoản định danh này đã bị thu hồi và không thể khôi phục.
api-application-changed = Hồ sơ này vừa được người khác cập nhật cùng lúc. Vui lòng tải lại và thử lại.
api-busy = Hệ thống đang bận. Vui lòng thử lại sau giây lát.
api-insufficient-storage = Hệ thống tạm thời không thể lưu dữ liệu (bộ nhớ lưu trữ đã đầy). Chưa có gì thay đổi; vui lòng thử lại sau.
api-status-changed = Trạng thái của tài khoản định danh này vừa được người khác thay đổi cùng lúc. Vui lòng tải lại và thử lại.
api-last-admin = Đây là mã quản trị viên cuối cùng còn hiệu lực; hãy tạo một quản trị viên khác trước.
api-method-not-allowed = Địa chỉ này không chấp nhận phương thức đó.
api-unsupported-media-type = Nội dung yêu cầu không đúng định dạng mà địa chỉ này chấp nhận.
api-payload-too-large = Nội dung yêu cầu quá lớn.
api-idempotency-key-reused = Idempotency-Key này đã được dùng cho một yêu cầu khác. Hãy dùng khóa mới cho yêu cầu mới.
api-idempotency-key-invalid = Tiêu đề Idempotency-Key phải gồm từ 1 đến 255 ký tự hiển thị.

## Các điểm cuối dành cho ví (OAuth / OpenID4VCI 1.0): mô tả lỗi, gợi ý mã giao dịch trong lời
## mời, thông báo mã giao dịch (SMS và thư điện tử), và cách hiển thị thông tin định danh trong
## siêu dữ liệu của bên cấp.
api-invalid-nonce = Nonce trong bằng chứng không xác định, đã được dùng, đã hết hạn hoặc thuộc phiên khác. Hãy xin nonce mới từ bên cấp và thử lại.
api-invalid-credential-request = Yêu cầu cấp thông tin định danh không đúng định dạng.
api-unknown-credential-configuration = Cấu hình thông tin định danh này không được cung cấp ở đây.
api-unknown-credential-identifier = Mã nhận diện thông tin định danh này không xác định.
api-invalid-encryption-parameters = Ở đây không hỗ trợ mã hóa phản hồi; hãy gửi yêu cầu không kèm tham số mã hóa.
api-credential-request-denied = Không thể cấp thông tin định danh: người nộp hồ sơ không còn đủ điều kiện. Vui lòng liên hệ điểm tiếp nhận.
api-temporarily-unavailable = Hệ thống đang bận. Vui lòng thử lại sau giây lát.
api-server-error = Đã xảy ra lỗi từ phía chúng tôi. Vui lòng thử lại sau.
api-tx-code-required = Lời mời này cần mã giao dịch đã được gửi cho bạn qua SMS và thư điện tử, hoặc do cán bộ trao cho bạn.
api-tx-code-wrong = Mã giao dịch không đúng. Nhập sai thêm { $left } lần nữa, lời mời này sẽ bị hủy.
api-offer-locked = Mã giao dịch đã bị nhập sai quá nhiều lần: lời mời này không còn hiệu lực. Hãy đề nghị điểm tiếp nhận cấp lời mời mới.
api-offer-needs-renewal = Lời mời này được tạo trước khi yêu cầu mã giao dịch. Hãy đề nghị điểm tiếp nhận cấp lời mời mới.
api-offer-tx-code-hint = Nhập mã giao dịch gồm { $length } chữ số đã được gửi cho bạn qua SMS và thư điện tử, hoặc do cán bộ trao cho bạn.
api-notify-tx-code-subject = Định danh điện tử mức 2: mã giao dịch
api-notify-tx-code = Mã giao dịch để nhận định danh điện tử mức 2 của bạn là { $code }. Hãy nhập mã này khi ví yêu cầu. Mã có hiệu lực đến ngày { $date }. Không chia sẻ mã cho bất kỳ ai: cán bộ sẽ không bao giờ hỏi mã này.
api-metadata-credential-name = Định danh điện tử mức 2 (người nước ngoài)
api-metadata-credential-description = Định danh điện tử mức 2 của người nước ngoài cư trú tại Việt Nam, kèm mã QR chứng minh theo từng mục đích cho chủ nhà, ngân hàng và cơ quan đăng ký cư trú.
api-metadata-claim-name = Họ và tên (theo chữ gốc)
api-metadata-claim-name-latin = Họ và tên (chữ Latinh)
api-metadata-claim-birth-date = Ngày sinh
api-metadata-claim-sex = Giới tính
api-metadata-claim-nationality = Quốc tịch
api-metadata-claim-passport-number = Số hộ chiếu
api-metadata-claim-residence-card-number = Số thẻ cư trú
api-metadata-claim-residence-card-kind = Loại thẻ cư trú
api-metadata-claim-residence-card-expiry = Thẻ cư trú có giá trị đến
api-metadata-claim-address = Địa chỉ tại Việt Nam
api-metadata-claim-eid-number = Số định danh cá nhân
api-metadata-claim-age-over-18 = Đủ 18 tuổi trở lên
api-metadata-claim-assurance-level = Mức độ định danh

# Quản lý khóa (quản trị viên của cơ quan cấp).
api-key-not-synced = Khóa này chưa có trong danh sách tin cậy đã công bố đủ lâu để các bên xác minh biết đến. Hãy chờ đến thời điểm đã nêu, hoặc buộc kích hoạt trong trường hợp khẩn cấp.
api-key-not-revoked = Chỉ cấp lại các định danh do một khóa đã thu hồi ký. Hãy thu hồi khóa trước.
api-trust-list-signed-here = Ở chế độ phát triển, hệ thống tự ký danh sách tin cậy; việc chuẩn bị và tải lên danh sách đã ký chỉ dành cho chế độ vận hành chính thức.
api-trust-list-not-prepared = Chưa có danh sách tin cậy nào được chuẩn bị. Hãy tải danh sách đang chờ, ký ngoại tuyến rồi tải lên.
api-trust-list-signature = Danh sách tin cậy này không xác minh được bằng khóa gốc đã ghim. Danh sách chưa được công bố.
api-trust-list-mismatch = Danh sách tin cậy đã ký này không phải danh sách hệ thống đã chuẩn bị (cũ hơn hoặc đã bị thay đổi). Hãy tải lại danh sách đang chờ và ký danh sách đó.
api-trust-list-outdated = Một danh sách tin cậy mới hơn đã được công bố.
api-trust-list-unavailable = Chưa có danh sách tin cậy đã ký nào được công bố. Vui lòng thử lại sau.
api-notify-reoffer-subject = Định danh điện tử mức 2 của bạn cần được nhận lại
api-notify-reoffer = Định danh điện tử mức 2 của bạn cần được cấp lại vì một khóa đã ký định danh này bị thu hồi. Hãy mở đường liên kết chúng tôi đã gửi trong ví của bạn và nhập mã giao dịch { $code }. Mã có hiệu lực đến ngày { $date }. Không chia sẻ mã cho bất kỳ ai: cán bộ sẽ không bao giờ hỏi mã này.
