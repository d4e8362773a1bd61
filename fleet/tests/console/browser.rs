//! A real browser for the console's tests: Debian's headless `chromium`
//! driven over WebDriver (`chromedriver`, started once per test binary on
//! a free loopback port and killed on drop). Pages are found as a person
//! finds them: fields by their label, buttons and links by what they say,
//! headings and alerts by their role.
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(15);
/// How long a click may take to leave its page.
const LEAVE: Duration = Duration::from_secs(5);

/// The `chromedriver` process.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Driver {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (scripts/ensure-services.sh installs chromium-driver)");
        let driver = Self { child, url: format!("http://127.0.0.1:{port}") };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return driver;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("chromedriver did not listen on port {port}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window on the console.
pub struct Browser {
    client: Client,
    base: String,
}

impl Browser {
    /// A fresh headless browser (no cookies) of `width` px.
    pub async fn open(driver: &Driver, base: &str, width: u32) -> Self {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", format!("--window-size={width},900")]}),
        );
        let client = ClientBuilder::rustls()
            .expect("tls roots")
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("a chromium session");
        Self { client, base: base.to_owned() }
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }

    pub async fn visit(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("navigate");
    }

    /// The path (and query) the browser is on.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn wait_for(&self, xpath: &str) -> Element {
        match self.client.wait().at_most(WAIT).for_element(Locator::XPath(xpath)).await {
            Ok(element) => element,
            Err(e) => {
                let page = self.client.source().await.unwrap_or_default();
                panic!("nothing matches {xpath} on {}: {e}\n{page}", self.path().await)
            }
        }
    }

    /// Types into the field a `<label>` names.
    pub async fn fill(&self, label: &str, value: &str) {
        let field = self.wait_for(&format!("//*[@id=//label[normalize-space()={}]/@for]", literal(label))).await;
        // Clearing twice is harmless, and chromedriver under load has once
        // dropped the connection a command was sent on (a CI run saw
        // `IncompleteMessage`): one more try on a transport failure.
        match field.clear().await {
            Err(fantoccini::error::CmdError::FailedC(_)) => field.clear().await.expect("clear"),
            cleared => cleared.expect("clear"),
        }
        field.send_keys(value).await.expect("type");
    }

    /// Picks an option, by its text, of the select a `<label>` names.
    pub async fn choose(&self, label: &str, option: &str) {
        let field = self.wait_for(&format!("//select[@id=//label[normalize-space()={}]/@for]", literal(label))).await;
        field.select_by_label(option).await.expect("select");
    }

    /// Clicks a label (which ticks or clears its checkbox).
    pub async fn click_label(&self, label: &str) {
        self.wait_for(&format!("//label[normalize-space()={}]", literal(label))).await.click().await.expect("click");
    }

    pub async fn press(&self, button: &str) {
        let pressed = self.wait_for(&format!("//button[normalize-space()={}]", literal(button))).await;
        self.click_and_leave(pressed).await;
    }

    pub async fn follow(&self, link: &str) {
        let followed = self.wait_for(&format!("//a[normalize-space()={}]", literal(link))).await;
        self.click_and_leave(followed).await;
    }

    /// Clicks, then waits until the page the element was on is gone (the
    /// element went stale), so what is read next is the new page, not the
    /// old one still showing. A click that stays on the page (a browser's
    /// own form validation) gives up waiting after a while.
    async fn click_and_leave(&self, element: Element) {
        element.clone().click().await.expect("click");
        let started = std::time::Instant::now();
        while element.tag_name().await.is_ok() && started.elapsed() < LEAVE {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the link whose text ends with `end`.
    pub async fn link_ending(&self, end: &str) -> String {
        let xpath = format!(
            "//a[substring(normalize-space(), string-length(normalize-space()) - {}) = {}]",
            end.len() - 1,
            literal(end)
        );
        self.wait_for(&xpath).await.text().await.expect("text")
    }

    /// The description of a term in a description list (`<dt>`/`<dd>`).
    pub async fn described(&self, term: &str) -> String {
        let xpath = format!("//dt[normalize-space()={}]/following-sibling::dd[1]", literal(term));
        self.wait_for(&xpath).await.text().await.expect("text")
    }

    /// Whether the figure captioned `caption` holds a drawn chart.
    pub async fn has_chart(&self, caption: &str) -> bool {
        let xpath = format!("//figure[figcaption[normalize-space()={}]]//*[local-name()='svg']", literal(caption));
        !self.client.find_all(Locator::XPath(&xpath)).await.expect("find").is_empty()
    }

    /// Presses a button in the table row that mentions `text`.
    pub async fn press_in_row(&self, text: &str, button: &str) {
        let xpath = format!("//tr[contains(., {})]//button[normalize-space()={}]", literal(text), literal(button));
        self.wait_for(&xpath).await.click().await.expect("click");
    }

    pub async fn row_exists(&self, text: &str) -> bool {
        let xpath = format!("//tr[contains(., {})]", literal(text));
        !self.client.find_all(Locator::XPath(&xpath)).await.expect("find").is_empty()
    }

    pub async fn has_link(&self, link: &str) -> bool {
        let xpath = format!("//a[normalize-space()={}]", literal(link));
        !self.client.find_all(Locator::XPath(&xpath)).await.expect("find").is_empty()
    }

    pub async fn has_button(&self, button: &str) -> bool {
        let xpath = format!("//button[normalize-space()={}]", literal(button));
        !self.client.find_all(Locator::XPath(&xpath)).await.expect("find").is_empty()
    }

    /// The page's main heading.
    pub async fn heading(&self) -> String {
        self.wait_for("//h1").await.text().await.expect("text")
    }

    /// What an element of `role` says (`alert`, `status`).
    pub async fn said(&self, role: &str) -> String {
        self.wait_for(&format!("//*[@role={}]", literal(role))).await.text().await.expect("text")
    }

    /// Runs a script in the page, as a user with developer tools might.
    pub async fn script(&self, source: &str) {
        self.client.execute(source, vec![]).await.expect("script");
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("screenshot")
    }
}

/// An XPath string literal (labels here never hold both quote kinds).
fn literal(text: &str) -> String {
    if text.contains('\'') { format!("\"{text}\"") } else { format!("'{text}'") }
}
