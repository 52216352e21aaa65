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
