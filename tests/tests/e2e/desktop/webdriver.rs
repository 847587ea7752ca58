//! A minimal W3C WebDriver client over reqwest: the endpoints the desktop
//! test uses (session, find, click, send keys, text, attribute, property,
//! enabled, displayed, execute, screenshot), and nothing else.
//!
//! <https://www.w3.org/TR/webdriver2/>

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// The key of an element reference in W3C WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The longest a single WebDriver call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What a WebDriver call can fail with.
#[derive(Debug)]
pub enum WdError {
    /// No answer (connection refused, timeout, ...).
    Http(reqwest::Error),
    /// The driver answered with a W3C error.
    Driver {
        status: u16,
        error: String,
        message: String,
    },
    /// The driver answered something that is not W3C JSON.
    Malformed(String),
}

impl WdError {
    /// The W3C error code ("no such element", "stale element reference", ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            WdError::Driver { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for WdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WdError::Http(e) => write!(f, "WebDriver unreachable: {e}"),
            WdError::Driver {
                status,
                error,
                message,
            } => write!(f, "WebDriver error {status} {error:?}: {message}"),
            WdError::Malformed(s) => write!(f, "WebDriver answered something odd: {s}"),
        }
    }
}

impl std::error::Error for WdError {}

/// An element reference.
#[derive(Debug, Clone)]
pub struct Element {
    id: String,
}

/// One WebDriver session.
#[derive(Debug)]
pub struct WebDriver {
    http: reqwest::Client,
    /// `<server>/session/<id>`
    session: String,
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WdError> {
    let mut req = http.request(method, url).timeout(CALL_TIMEOUT);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.map_err(WdError::Http)?;
    let status = res.status().as_u16();
    let text = res.text().await.map_err(WdError::Http)?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|_| WdError::Malformed(format!("{status}: {}", short(&text, 300))))?;
    let value = v.get("value").cloned().unwrap_or(Value::Null);
    if status >= 400 || value.get("error").is_some_and(Value::is_string) {
        return Err(WdError::Driver {
            status,
            error: value["error"]
                .as_str()
                .unwrap_or("unknown error")
                .to_string(),
            message: value["message"].as_str().unwrap_or("").to_string(),
        });
    }
    Ok(value)
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

impl WebDriver {
    /// Starts a session on `server` (tauri-driver) for the Tauri app at
    /// `application`, retrying while the server is not up yet, for at most
    /// `within`.
    pub async fn start(server: &str, application: &Path, within: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .context("an HTTP client")?;
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "wry",
                    "tauri:options": { "application": application },
                }
            }
        });
        let until = Instant::now() + within;
        let url = format!("{server}/session");
        loop {
            match call(&http, reqwest::Method::POST, &url, Some(caps.clone())).await {
                Ok(v) => {
                    let id = v["sessionId"]
                        .as_str()
                        .ok_or_else(|| anyhow!("a new session without sessionId: {v}"))?;
                    return Ok(Self {
                        session: format!("{server}/session/{id}"),
                        http,
                    });
                }
                // tauri-driver not listening yet, or closing the connection
                // because WebKitWebDriver behind it is not.
                Err(WdError::Http(_)) if Instant::now() < until => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => {
                    return Err(e).context(format!("starting a WebDriver session at {url}"));
                }
            }
        }
    }

    async fn get(&self, path: &str) -> Result<Value, WdError> {
        let url = format!("{}{path}", self.session);
        call(&self.http, reqwest::Method::GET, &url, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, WdError> {
        let url = format!("{}{path}", self.session);
        call(&self.http, reqwest::Method::POST, &url, Some(body)).await
    }

    fn element(v: &Value) -> Result<Element, WdError> {
        v.get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .map(|id| Element { id: id.to_string() })
            .ok_or_else(|| WdError::Malformed(format!("not an element reference: {v}")))
    }

    /// The first element matching `css`, if there is one now.
    pub async fn find(&self, css: &str) -> Result<Option<Element>, WdError> {
        let body = json!({ "using": "css selector", "value": css });
        match self.post("/element", body).await {
            Ok(v) => Self::element(&v).map(Some),
            Err(e) if e.code() == Some("no such element") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every element matching `css` now.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, WdError> {
        let body = json!({ "using": "css selector", "value": css });
        let v = self.post("/elements", body).await?;
        v.as_array()
            .ok_or_else(|| WdError::Malformed(format!("not a list of elements: {v}")))?
            .iter()
            .map(Self::element)
            .collect()
    }

    pub async fn click(&self, el: &Element) -> Result<(), WdError> {
        self.post(&format!("/element/{}/click", el.id), json!({}))
            .await
            .map(drop)
    }

    pub async fn send_keys(&self, el: &Element, text: &str) -> Result<(), WdError> {
        self.post(
            &format!("/element/{}/value", el.id),
            json!({ "text": text }),
        )
        .await
        .map(drop)
    }

    pub async fn clear(&self, el: &Element) -> Result<(), WdError> {
        self.post(&format!("/element/{}/clear", el.id), json!({}))
            .await
            .map(drop)
    }

    /// The rendered text (empty for hidden elements).
    pub async fn text(&self, el: &Element) -> Result<String, WdError> {
        let v = self.get(&format!("/element/{}/text", el.id)).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    pub async fn attr(&self, el: &Element, name: &str) -> Result<Option<String>, WdError> {
        let v = self
            .get(&format!("/element/{}/attribute/{name}", el.id))
            .await?;
        Ok(v.as_str().map(str::to_string))
    }

    pub async fn prop(&self, el: &Element, name: &str) -> Result<Value, WdError> {
        self.get(&format!("/element/{}/property/{name}", el.id))
            .await
    }

    pub async fn enabled(&self, el: &Element) -> Result<bool, WdError> {
        let v = self.get(&format!("/element/{}/enabled", el.id)).await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    pub async fn displayed(&self, el: &Element) -> Result<bool, WdError> {
        let v = self.get(&format!("/element/{}/displayed", el.id)).await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// Runs `script` (a function body) in the page with `args`.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, WdError> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Runs `script` (a function body that calls its last argument with the
    /// result) in the page with `args`, and waits for the result.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value, WdError> {
        self.post("/execute/async", json!({ "script": script, "args": args }))
            .await
    }

    /// A PNG of the web view.
    pub async fn screenshot(&self) -> anyhow::Result<Vec<u8>> {
        let v = self.get("/screenshot").await?;
        let b64 = v
            .as_str()
            .ok_or_else(|| anyhow!("a screenshot that is not a string"))?;
        STANDARD
            .decode(b64)
            .context("a screenshot that is not base64")
    }

    /// Ends the session (WebKitWebDriver closes the app).
    pub async fn quit(&self) -> Result<(), WdError> {
        call(&self.http, reqwest::Method::DELETE, &self.session, None)
            .await
            .map(drop)
    }
}
