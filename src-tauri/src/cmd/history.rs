//! `history(limit)`: the user's decisions, newest first.

use authentiq_authenticator::local::Decision;
use tauri::State;

use crate::error::CmdResult;
use crate::state::{AppState, blocking};

const MAX: u32 = 1000;

#[tauri::command]
pub async fn history(limit: u32, state: State<'_, AppState>) -> CmdResult<Vec<Decision>> {
    let identity = state.authenticator()?;
    blocking(move || Ok(identity.history(limit.clamp(1, MAX))?)).await
}
