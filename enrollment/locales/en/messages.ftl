# Messages for applicants for a level-2 electronic identity (English).
# Reason ids: reason-<code> with "-" for "_". Every id must exist in all four languages (a test checks).

## The form

reason-json-invalid = The data sent is not in the expected format. Please check the form and send it again.
reason-field-missing = Some required information is missing. Please fill in every required field.
reason-field-unknown = The form contains a field that is not supported. Please check the field names.
reason-field-type-invalid = A field in the form holds a value of the wrong type.
reason-name-invalid = The name is not valid. Please write it exactly as in your passport; the name in Latin letters may contain only the letters A–Z and spaces.
reason-sex-invalid = Sex is not valid. Please choose M (male), F (female) or X (unspecified).
reason-date-invalid = The date is not valid. Please use the format year-month-day (for example 1990-04-12) and check the issue and expiry dates.
reason-nationality-invalid = The nationality is not valid. Please enter the three-letter ISO 3166-1 country code (for example KOR, CHN, USA). This service is for foreign nationals.
reason-passport-number-invalid = The passport number is not valid. It has 5 to 20 Latin letters and digits, without spaces.
reason-card-number-invalid = The residence card number is not valid. It has 6 to 20 letters and digits.
reason-residence-kind-invalid = The card type is not valid. Please choose temporary residence card or permanent residence card.
reason-address-invalid = The address in Vietnam is not valid. Please enter where you live now, in at most 300 characters.
reason-phone-invalid = The phone number is not valid. Please enter a Vietnamese mobile number, for example 0912 345 678 or +84 912 345 678.
reason-email-invalid = The email address is not valid. Please check it, for example name@example.com.
reason-reception-point-invalid = The reception point is not valid. Please choose one from the list.
reason-guardian-id-invalid = The guardian's identity document number is not valid. It has 5 to 20 letters and digits.
reason-relationship-invalid = The relationship to the guardian is not valid. Please choose parent or legal guardian.
reason-format-characters = This field contains invisible formatting characters (such as right-to-left marks or zero-width characters). Please type the text again without them.

## Eligibility

reason-applicant-under-6 = Applicants must be at least 6 years old to receive a level-2 electronic identity.
reason-guardian-required = Applicants under 14 need a guardian (a parent or legal guardian), who must be named on the form and come with them.
reason-residence-card-expired = Your residence card has expired. Please renew it before you apply.
reason-residence-card-not-yet-valid = Your residence card is not valid yet: its issue date is in the future.
reason-already-holds-credential = You already hold an active level-2 electronic identity, so you cannot apply for another one.

## National database check

reason-person-not-found = We could not find you in the national immigration database. Please contact the immigration authority.
reason-card-not-found = This residence card number is not in the database. Please check the number.
reason-card-revoked = This residence card has been revoked.
reason-card-expired = According to the database, this residence card has expired.
reason-name-mismatch = The name on the form does not match the database. Please write it exactly as in your passport.
reason-date-of-birth-mismatch = The date of birth on the form does not match the database.
reason-nationality-mismatch = The nationality on the form does not match the database.
reason-passport-mismatch = The passport number on the form does not match the database. If you have a new passport, please have it updated by the immigration authority.
reason-card-kind-mismatch = The card type (temporary or permanent) on the form does not match the database.

## Biometrics

reason-biometric-type-invalid = This file format is not accepted. Portraits must be JPEG or PNG; fingerprints must be PNG, JPEG, WSQ or ISO/IEC 19794-4.
reason-biometric-too-large = The file is too large (portrait up to 5 MiB, each fingerprint up to 2 MiB).
reason-biometric-too-small = The file is too small to be usable. Please capture it again.
reason-biometric-quality-invalid = The quality score must be between 0 and 100.
reason-fingerprint-position-invalid = The finger position is not valid. It must be 1 to 10, as in ISO/IEC 19794-4.
reason-fingerprint-position-duplicate = Two fingerprints were given for the same finger.
reason-fingerprints-missing = No fingerprints were given. Please capture the fingerprints.

## Processing

reason-application-not-ready = This step cannot be done yet because an earlier step is not finished.
reason-application-closed = This application is closed (rejected or issued) and can no longer be changed.
reason-step-already-done = This step has already been done.
reason-event-time-invalid = The time of this action is earlier than the application's last update.
reason-actor-invalid = The officer ID is not valid.

## Application status

status-submitted = Application received
status-biometrics-captured = Portrait and fingerprints captured
status-data-checked = Details checked
status-approved = Approved
status-rejected = Not approved
status-issued = Electronic identity issued

## Guidance

guide-how-to-apply = Foreign nationals aged 6 or over with a valid temporary or permanent residence card apply in person at a reception point (provincial police, industrial zones, international schools or residential areas) with form TK01. An officer takes your photo and fingerprints and checks your details against the national databases.
guide-documents = Please bring: your passport or an equivalent travel document; your valid temporary or permanent residence card; a completed TK01 form; a Vietnamese mobile number and an email address you use. Applicants under 14 must come with a parent or legal guardian, who brings their own identity document.
guide-biometrics-appointment = Your biometrics appointment: { $date } at { $point }. Please bring your passport and residence card, and take off glasses and hats for the photo.
guide-wallet = When your application is approved, you will get a text message and an email. Open the identity wallet app, sign in with the phone number on your form and choose "Receive electronic identity" to download it. The QR code on your phone works even without a connection.
deadline-notice = We will decide on your application within { $days ->
        [one] { $days } working day
       *[other] { $days } working days
    }, by { $date } at the latest.

## The HTTP API's own codes (officers, wallets and applicants may see them)

api-unauthorized = Please sign in: this request needs a valid access token.
api-forbidden = You are not allowed to do this. Officers can only work on applications of their own reception point.
api-not-found = Nothing was found at this address.
api-internal-error = Something went wrong on our side. Please try again later; if it keeps happening, contact the reception point.
api-invalid-request = The request is not in the expected format.
api-invalid-application = The application form has errors. Please correct the fields listed and send it again.
api-not-eligible = The applicant cannot receive a level-2 electronic identity at this time, for the reasons listed.
api-application-exists = An application for this person is already being processed.
api-invalid-biometrics = The portrait or fingerprints could not be accepted. Please capture them again.
api-national-check-failed = The national data check found differences from the registers. Please check the documents with the applicant.
api-field-invalid = A value in the request is not valid.
api-invalid-grant = This credential offer is not valid: it was already used or has expired. Ask the reception point for a new one.
api-invalid-token = The access token is not valid or has expired. Please start receiving the credential again.
api-invalid-proof = The wallet could not prove that it holds its device key. Please try again from the wallet.
api-unsupported-grant-type = This kind of authorization is not supported.
api-unsupported-credential-type = This kind of credential is not offered here.
api-key-transition-refused = This key cannot change to that state.
api-credential-revoked = This credential has been revoked and cannot be reinstated.
api-application-changed = Someone else changed this application at the same moment. Please reload it and try again.
api-busy = The service is busy right now. Please try again in a moment.
api-insufficient-storage = The service cannot save anything right now (its storage is full). Nothing was changed; please try again later.
api-status-changed = This credential's status was changed by someone else at the same moment. Please reload it and try again.
api-last-admin = This is the last active administrator token; create another administrator first.
api-method-not-allowed = This address does not accept that method.
api-unsupported-media-type = The request body is not in a format this address accepts.
api-payload-too-large = The request body is too large.
api-invalid-query = A query parameter of this address is unknown or not valid.
api-invalid-multipart = The multipart upload is broken or incomplete.
api-request-timeout = The request was not received in time. Please send it again.
api-rate-limited = Too many requests from your address. Please wait a moment before trying again.
api-too-many-attempts = Too many failed sign-ins or codes from your address. Please wait before trying again.
api-too-many-connections = The service has too many open connections right now. Please try again in a moment.
api-idempotency-key-reused = This Idempotency-Key was already used for a different request. Use a new key for a new request.
api-idempotency-key-invalid = The Idempotency-Key header must be 1 to 255 visible characters.

## Wallet-facing endpoints (OAuth / OpenID4VCI 1.0): error descriptions, the offer's transaction
## code hint, the transaction code notice (SMS and e-mail), and the credential's display in the
## issuer metadata.
api-invalid-nonce = The nonce in the proof is unknown, already used, expired or from another session. Ask the issuer for a new nonce and try again.
api-invalid-credential-request = The credential request is not in the expected format.
api-unknown-credential-configuration = This credential configuration is not offered here.
api-unknown-credential-identifier = This credential identifier is unknown.
api-invalid-encryption-parameters = Encrypted credential responses are not offered here; send the request without encryption parameters.
api-credential-request-denied = The credential cannot be issued: the applicant is no longer eligible. Please contact the reception point.
api-temporarily-unavailable = The service is busy right now. Please try again in a moment.
api-server-error = Something went wrong on our side. Please try again later.
api-tx-code-required = This offer needs the transaction code that was sent to you by SMS and e-mail, or given to you by the officer.
api-tx-code-wrong = The transaction code is wrong. { $left ->
        [one] { $left } more wrong code will cancel this offer.
       *[other] { $left } more wrong codes will cancel this offer.
    }
api-offer-locked = Too many wrong transaction codes: this offer no longer works. Ask the reception point to renew it.
api-offer-needs-renewal = This offer was made before transaction codes were required. Ask the reception point to renew it.
api-offer-tx-code-hint = Enter the { $length }-digit transaction code sent to you by SMS and e-mail, or given to you by the officer.
api-notify-tx-code-subject = Your level-2 e-ID: transaction code
api-notify-tx-code = Your transaction code for receiving your level-2 electronic identity is { $code }. Enter it in your wallet when it asks. It works until { $date }. Never share it: staff will never ask you for it.
api-metadata-credential-name = Level-2 electronic identity (foreign resident)
api-metadata-credential-description = Electronic identity of a foreign resident of Vietnam, at level 2, with per-purpose QR proofs for landlords, banks and residence offices.
api-metadata-claim-name = Name as written
api-metadata-claim-name-latin = Name (Latin letters)
api-metadata-claim-birth-date = Date of birth
api-metadata-claim-sex = Sex
api-metadata-claim-nationality = Nationality
api-metadata-claim-passport-number = Passport number
api-metadata-claim-residence-card-number = Residence card number
api-metadata-claim-residence-card-kind = Residence card kind
api-metadata-claim-residence-card-expiry = Residence card valid until
api-metadata-claim-address = Address in Vietnam
api-metadata-claim-eid-number = Personal identification number
api-metadata-claim-age-over-18 = Aged 18 or over
api-metadata-claim-assurance-level = Assurance level

## The officer and admin console (issuer /console); staff-facing

console-product = e-ID issuing console
console-skip = Skip to main content
console-language = Language
console-language-apply = Change
console-nav-label = Main menu
console-nav-queue = Applications
console-nav-new = New application (TK01)
console-nav-tokens = Staff tokens
console-nav-keys = Signing keys
console-nav-credentials = Credential status
console-nav-audit = Audit log
console-role-officer = Officer
console-role-admin = Administrator
console-sign-in = Sign in
console-sign-out = Sign out
console-sign-in-intro = Sign in with the staff access token your administrator gave you. The console then keeps you signed in on this browser for up to 10 hours, or until 30 minutes without use.
console-sign-in-token = Access token
console-sign-in-token-hint = It starts with vnid_off_ for officers and vnid_adm_ for administrators.
console-sign-in-failed = This access token is not valid or has been revoked. Check it and try again.
console-back-to-console = Back to the console
console-back-to-application = Back to the application
console-error-signed-out = Please sign in
console-error-forbidden = Not allowed
console-error-csrf = This form has expired
console-error-bad-form = The form could not be read
console-error-not-found = Page not found
console-error-internal = Something went wrong
console-error-refused = This was not done
console-error-prefix = Error:
console-form-has-errors = Please correct the following
console-optional = (optional)
console-choose = Choose…
console-yes = yes
console-no = no
console-or = or
console-confirm = I am sure
console-print = Print
console-queue-title = Applications at my reception point
console-counts = Counts
console-deadlines = Deadlines
console-counts-per-state = Applications per state
console-today = Today
console-today-application-submitted = Received
console-today-application-biometrics-captured = Biometrics captured
console-today-application-data-checked = Checked
console-today-application-approved = Approved
console-today-application-rejected = Rejected
console-today-partial = Today's audit log is too long to read back to midnight here: these are the latest changes only.
console-today-credential-issued = Issued to wallets
console-open-applications = Open applications, soonest due first
console-queue-caption = Open applications sorted by due date
console-queue-empty = No open applications.
console-queue-not-listed = Only the 500 applications due soonest are listed; find the others by passport or residence card below.
console-mark-overdue = Overdue
console-mark-due-soon = Due soon
console-col-due = Due
console-col-name = Name
console-col-state = State
console-col-submitted = Received
console-col-reference = Reference
console-col-time = Time
console-col-actor = By
console-col-created = Created
console-col-actions = Actions
console-col-slot = Capture
console-col-format = Format
console-col-size = Size
console-col-quality = Quality
console-lookup = Find an application
console-lookup-intro = By nationality and passport number, or by residence card number. The numbers are sent in the form, never in the address.
console-lookup-find = Find
console-lookup-none = No application of this reception point was found for these details.
console-new-title = New application (form TK01)
console-new-intro = Enter the details exactly as on the applicant's passport and residence card. Reception point:
console-new-submit = Save the application
console-group-applicant = Applicant
console-group-documents = Passport and residence card
console-group-contact = Address and contact
console-group-guardian = Guardian
console-hint-group-guardian = Only for applicants under 14, who come with a parent or legal guardian.
console-field-full-name = Full name, as in the passport
console-hint-full-name = In the passport's own script, for example 김민준 or 王芳.
console-field-full-name-latin = Name in Latin letters
console-hint-full-name-latin = As in the passport's machine-readable zone, for example KIM MIN JUN. Needed when the name is not in Latin letters.
console-field-sex = Sex
console-sex-m = Male (M)
console-sex-f = Female (F)
console-sex-x = Unspecified (X)
console-field-date-of-birth = Date of birth
console-field-nationality = Nationality
console-hint-nationality = The three-letter code on the passport, for example KOR, CHN, USA.
console-field-passport-number = Passport number
console-field-residence-card-number = Residence card number
console-field-residence-card-kind = Card type
console-card-temporary = Temporary residence card (TRC)
console-card-permanent = Permanent residence card (PRC)
console-field-residence-card-issued-on = Card issued on
console-field-residence-card-expires-on = Card valid until
console-field-address = Address in Vietnam
console-hint-address = Where the applicant lives now, up to 300 characters.
console-field-phone = Mobile phone
console-hint-phone = A Vietnamese mobile number, for example 0912 345 678. The wallet signs in with it.
console-field-email = Email
console-field-guardian-full-name = Guardian's full name
console-field-guardian-id-number = Guardian's identity document number
console-field-guardian-relationship = Relationship
console-relationship-parent = Parent
console-relationship-legal-guardian = Legal guardian
console-field-reception-point = Reception point
console-field-portrait = Portrait
console-application-title = Application
console-eid-number = e-ID number
console-credential-id = Credential id
console-handout-link = Hand-out for the applicant
console-next-step = Next step
console-check-intro = Check the applicant against the national immigration and residence registers.
console-check-run = Run the national-data check
console-approve-intro = The check is clear. Approving draws the e-ID number and opens a credential offer for the applicant's wallet.
console-approve = Approve and show the offer
console-reoffer-intro = The offer was lost or has expired? A new one replaces it; the old QR code stops working.
console-reoffer = New offer
console-details = Details from the form
console-biometrics = Portrait and fingerprints
console-biometrics-none = Nothing captured yet.
console-biometrics-caption = Captured files and their quality
console-biometrics-upload = Save portrait and fingerprints
console-portrait-file = Portrait file (JPEG or PNG)
console-hint-portrait = From the capture station, or take it with this device's camera.
console-camera-start = Use the camera
console-camera-take = Take the portrait
console-camera-preview = Camera preview
console-quality-score = Quality score (0–100)
console-hint-quality = The score the capture station shows for this image.
console-quality-good = good
console-quality-fair = acceptable
console-quality-poor = poor: capture again
console-fingerprints = Fingerprints
console-hint-fingerprints = Any fingers the station captured (PNG, JPEG, WSQ or ISO/IEC 19794-4), each with its quality score.
console-fingerprint-file = Fingerprint file
console-finger-1 = Right thumb
console-finger-2 = Right index finger
console-finger-3 = Right middle finger
console-finger-4 = Right ring finger
console-finger-5 = Right little finger
console-finger-6 = Left thumb
console-finger-7 = Left index finger
console-finger-8 = Left middle finger
console-finger-9 = Left ring finger
console-finger-10 = Left little finger
console-check = National-data check
console-check-not-run = Not run yet.
console-check-clear = The registers vouch for the applicant and the card.
console-check-not-clear = The registers do not agree with the form.
console-check-person-found = Person found
console-check-card-found = Card found
console-check-card-matches = Card matches the applicant
console-check-card-valid = Card valid
console-check-biometrics-on-file = Biometrics already on file (3 working days)
console-rejection-reason = Reason for rejection
console-hint-rejection = Shown to staff only, never to the applicant. At most 500 characters.
console-reject = Reject the application
console-history = History
console-history-none = No change since the application was received.
console-offer-title = Credential offer
console-offer-intro = Turn the screen towards the applicant. Their wallet scans this code to receive the e-ID.
console-offer-qr-label = QR code of the credential offer
console-offer-expires = Valid until { $date }
console-offer-tx-code = Transaction code
console-offer-tx-code-hint = Tell the applicant this code; they type it in the wallet. Do not write it next to the QR code.
console-offer-step-open = The applicant opens the identity wallet app.
console-offer-step-scan = They choose to receive an e-ID and scan the code.
console-offer-step-wait = The wallet shows the e-ID within a few seconds.
console-offer-once = This code works once. It is shown on this page only: if it is lost, make a new offer.
console-handout-language = Language of the hand-out
console-handout-title = Your application for a level-2 electronic identity
console-handout-name = Applicant
console-handout-reference = Application reference
console-handout-point = Reception point
console-handout-submitted = Received on
console-handout-due = Decision by
console-handout-state = Current state
console-handout-next = What happens next
console-handout-keep = Keep this paper until you have received your electronic identity. Bring it if you come back to the reception point.
console-tokens-title = Staff tokens and roles
console-token-new = New token
console-token-role = Role
console-token-name = Name or badge number
console-hint-token-name = How the audit log names this person, for example officer-0042.
console-hint-token-point = Required for officers, for example hn-ba-dinh-police.
console-token-create = Create the token
console-token-created = Token created
console-token-shown-once = Give it to its holder now: it is shown this once and never again (the issuer keeps only its hash).
console-tokens-list = All tokens
console-token-active = Active
console-token-revoked = Revoked
console-token-revoke = Revoke
console-keys-title = Signing keys
console-keys-caption = Keys listed in the trust list, with their signing periods
console-key-id = Key id
console-key-signs = Signs from – until
console-key-valid-until = Signatures accepted until
console-key-days-left = Days left
console-days = { $days ->
        [one] { $days } day
       *[other] { $days } days
    }
console-key-state-next = next
console-key-state-active = active
console-key-state-retired = retired
console-key-state-revoked = revoked
console-key-activate = Activate
console-key-revoke = Revoke
console-key-prepare = Prepare the next key
console-key-rotate = Rotate now
console-key-warn-ends-soon = The active key stops signing in { $days ->
        [one] { $days } day
       *[other] { $days } days
    }: prepare the next key.
console-key-warn-no-next = No next key is prepared yet.
console-rotation = Rotation
console-rotation-prepare = Prepare a next key: it is published in the trust list but signs nothing yet.
console-rotation-wait = Wait until verifiers have synced it (at least one sync interval, 7 days).
console-rotation-activate = Activate the next key in the table above: it signs from then on and the old one retires.
console-rotation-revoke = Revoke a key only if it is compromised: nothing it signed is accepted any more.
console-rotation-emergency = Emergency rotation
console-rotation-emergency-intro = A new key signs at once. Verifiers that have not synced since cannot check new credentials until they do.
console-credentials-title = Credential status
console-credential = Credential
console-credential-status = Status
console-credential-status-valid = valid
console-credential-status-suspended = suspended
console-credential-status-revoked = revoked
console-credential-issued = Issued
console-credential-expires = Expires
console-credential-new-status = New status
console-credential-reason = Reason
console-hint-status-reason = Recorded in the audit log with the change.
console-confirm-revocation = I understand that a revocation is final
console-credential-change = Change the status
console-credential-final = This credential is revoked; its status cannot change any more.
console-credential-not-found = No credential has this id.
console-status-reason-holder-request = The holder asked for it
console-status-reason-device-lost = Phone lost or stolen
console-status-reason-card-withdrawn = Residence card withdrawn
console-status-reason-fraud-suspected = Fraud suspected
console-status-reason-data-error = Wrong data, to be issued again
console-status-reason-resolved = Resolved: reinstated
console-audit-title = Audit log
console-audit-intro = Every change of an application, a credential, a key or a token, newest first. Entries hold ids and codes, never personal data.
console-audit-action = Action
console-audit-any-action = Any action
console-audit-actor = By (token id)
console-audit-subject = Subject (id)
console-audit-from = From
console-audit-to = Until
console-audit-filter = Filter
console-audit-detail = Detail
console-audit-caption = Matching entries, newest first
console-audit-none = No entry matches these filters.
console-audit-older = Older entries
console-audit-bad-filter = An id filter may hold only letters, digits, - and _.
console-audit-bad-date = Dates are written year-month-day, for example 2026-11-27.
console-done-submitted = The application is saved. Next: capture the portrait and fingerprints.
console-done-biometrics = Portrait and fingerprints saved.
console-done-checked = The national-data check is clear.
console-done-rejected = The application is rejected.
console-done-signed-out = You are signed out.
console-done-token-revoked = The token is revoked; its sessions are over.
console-done-key-prepared = A next key is prepared and published.
console-done-key-activated = The key is active; the previous one is retired.
console-done-key-rotated = A new key signs from now on; the previous one is retired.
console-done-key-revoked = The key is revoked.
console-done-status-changed = The status is changed; verifiers see it at their next sync.
## Registry changes after issuance (the holder's notice: what happened, what it means, what to do).
## $date: the day of the change (for an expiry, the card's last valid day); $due: the day the
## renewal will be decided by; $link: the renewal offer for the wallet.

registry-subject-card-revoked = Your level-2 e-ID has been revoked
registry-notice-card-revoked = On { $date } the immigration authority revoked your residence card. Your level-2 electronic identity rested on that card, so it has been revoked too: landlords, banks and offices will no longer accept it. If you think this is a mistake, contact the immigration authority. Once you hold a valid residence card again, you can apply for a new electronic identity at a reception point.
registry-subject-card-expired = Your level-2 e-ID has ended with your residence card
registry-notice-card-expired = Your residence card was valid until the end of { $date }. Your level-2 electronic identity rested on that card, so it is revoked from then on: landlords, banks and offices will no longer accept it. Renew your residence card with the immigration authority; with the new card, apply for a new electronic identity at a reception point.
registry-subject-card-replaced = Your level-2 e-ID is suspended until it is renewed
registry-notice-card-replaced = On { $date } the immigration authority issued you a new residence card, replacing the old one. Your level-2 electronic identity names the old card, so it is suspended until you receive a renewed one; you do not need to apply again or give your fingerprints again. The reception point will decide on the renewal by { $due }; you will then get a text message with a code to receive it in your wallet app. Your current electronic identity stops working for good once the renewed one is in your wallet.
registry-subject-card-reinstated = Your level-2 e-ID is valid again
registry-notice-card-reinstated = On { $date } the immigration authority reinstated your residence card. Your level-2 electronic identity is valid again; you do not need to do anything. Landlords, banks and offices see the change when their app next updates, within a day.
registry-renewal-offer-subject = Your renewed level-2 e-ID is ready
registry-renewal-offer = Your renewed electronic identity, for your new residence card, is ready. Open this link on your phone with your wallet app: { $link } — the wallet asks for the transaction code sent to you in a separate message. The offer works until { $date }.
# Key custody (issuer admins).
api-key-not-synced = This key has not been in a published trust list long enough for verifiers to know it. Wait until the time given, or force the activation as an emergency.
api-key-not-revoked = Only the credentials of a revoked key are re-issued. Revoke the key first.
api-trust-list-signed-here = In development mode this issuer signs its trust lists itself; preparing and uploading one is for production mode.
api-trust-list-not-prepared = No trust list is prepared. Download the pending trust list first, sign it offline and upload it.
api-trust-list-signature = This trust list does not verify under the pinned root key. It was not published.
api-trust-list-mismatch = This signed trust list is not the one this issuer prepared (it is older, or was changed). Download the pending trust list again and sign that one.
api-trust-list-outdated = A newer trust list has been published already.
api-trust-list-unavailable = No signed trust list is published yet. Please try again later.
api-notify-reoffer-subject = Your level-2 e-ID must be received again
api-notify-reoffer = Your level-2 electronic identity must be issued again because a key that signed it was withdrawn. Open the link we sent you in your wallet and enter the transaction code { $code }. It works until { $date }. Never share it: staff will never ask you for it.
