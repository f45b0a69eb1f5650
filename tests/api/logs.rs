//! Each outcome is logged once per event: the stack's metric filters count `outcome` log
//! lines, and the failure alarm compares wrong answers with sign-ins.

use authkit_tests::logs::CapturedLogs;
use authkit_tests::{Backend, TestApp};

#[tokio::test]
async fn a_wrong_code_is_logged_as_one_wrong_code_outcome() {
    let logs = CapturedLogs::start();
    let app = TestApp::spawn(Backend::Embedded).await;
    let email = app.unique_email();
    let started = app.start(&email).await;
    let code = app.code_sent_to(&email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let answered = app
        .verify_code(started["challenge_id"].as_str().unwrap(), wrong)
        .await;
    assert_eq!(answered.status(), 400);
    assert_eq!(logs.count_outcome("wrong_code"), 1);
}
