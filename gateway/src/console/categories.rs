//! The admin's category pages: the tree, indented, with a form to add a
//! category; a category's page to rename it, move it under another parent
//! or delete it. Catalog's rules apply as for the REST routes, and its
//! refusals (a taken name, a move under itself) are shown on the form.
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use common::ApiError;
use proto::catalog::v1 as pb;
use serde::Deserialize;

use super::page::{self, Layout, Posted, Section};
use super::session::{Admin, Csrf, Session};
use crate::AppState;

/// A category in the tree's reading order, with its depth.
pub struct Node {
    pub(super) id: i64,
    pub(super) name: String,
    slug: String,
    depth: usize,
    parent: Option<i64>,
    /// Picked in the page's form (as a parent, or a product's category).
    pub(super) chosen: bool,
}

impl Node {
    /// The name indented for an `<option>` (where padding does not apply).
    pub(super) fn option_label(&self) -> String {
        format!("{}{}", "\u{2014} ".repeat(self.depth), self.name)
    }

    fn indent(&self) -> String {
        format!("{:.1}", 0.75 + 1.5 * self.depth as f64)
    }
}

/// The flat list (by name) as a tree walked depth first, siblings by name.
fn tree(categories: Vec<pb::Category>) -> Vec<Node> {
    let mut children: HashMap<Option<i64>, Vec<&pb::Category>> = HashMap::new();
    let known: std::collections::HashSet<i64> = categories.iter().map(|c| c.id).collect();
    for category in &categories {
        // A parent outside the list (it cannot be, short of a race) shows as a root.
        let parent = category.parent.filter(|p| known.contains(p));
        children.entry(parent).or_default().push(category);
    }
    let mut nodes = Vec::with_capacity(categories.len());
    let mut stack: Vec<(&pb::Category, usize)> =
        children.get(&None).map(|roots| roots.iter().rev().map(|c| (*c, 0)).collect()).unwrap_or_default();
    while let Some((category, depth)) = stack.pop() {
        nodes.push(Node {
            id: category.id,
            name: category.name.clone(),
            slug: category.slug.clone(),
            depth,
            parent: category.parent,
            chosen: false,
        });
        if let Some(below) = children.get(&Some(category.id)) {
            stack.extend(below.iter().rev().map(|c| (*c, depth + 1)));
        }
    }
    nodes
}

/// Marks the parent the form shows as picked.
pub(super) fn choose(mut nodes: Vec<Node>, parent: Option<i64>) -> Vec<Node> {
    for node in &mut nodes {
        node.chosen = Some(node.id) == parent;
    }
    nodes
}

pub(super) async fn load(state: &AppState) -> Result<Vec<Node>, ApiError> {
    let d = &state.downstream;
    let mut catalog = d.catalog.clone();
    let list = d.call(catalog.list_categories(d.request(pb::ListCategoriesRequest {}, None))).await?;
    Ok(tree(list.categories))
}

#[derive(Template)]
#[template(path = "console/categories.html")]
struct CategoriesPage {
    layout: Layout,
    nodes: Vec<Node>,
    notice: Option<&'static str>,
    error: Option<String>,
    name: String,
}

async fn list_page(
    state: &AppState,
    session: &Session,
    csrf: &Csrf,
    status: StatusCode,
    notice: Option<&'static str>,
    form: (String, Option<i64>, Option<String>),
) -> Response {
    let nodes = match load(state).await {
        Ok(nodes) => nodes,
        Err(error) => return page::failure(Some(session), csrf, error),
    };
    let (name, parent, error) = form;
    let nodes = choose(nodes, parent);
    let layout = Layout::new("Categories", Some(session), csrf, Section::Categories);
    page::render(status, &CategoriesPage { layout, nodes, notice, error, name })
}

pub async fn list(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let notice = match params.get("done").map(String::as_str) {
        Some("created") => Some("The category is created."),
        Some("saved") => Some("The category is saved."),
        Some("deleted") => Some("The category is deleted."),
        _ => None,
    };
    list_page(&state, &session, &csrf, StatusCode::OK, notice, (String::new(), None, None)).await
}

/// A category form's fields: the parent is an id, or empty for a root.
#[derive(Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent: String,
}

impl CategoryForm {
    fn parent(&self) -> Result<Option<i64>, ApiError> {
        match self.parent.trim() {
            "" => Ok(None),
            raw => raw
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .map(Some)
                .ok_or_else(|| ApiError::field("parent", "Choose a category from the list.")),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Posted(form): Posted<CategoryForm>,
) -> Response {
    let created = async {
        let message = pb::CreateCategoryRequest { name: Some(form.name.clone()), parent: form.parent()? };
        let d = &state.downstream;
        let mut catalog = d.catalog.clone();
        d.call(catalog.create_category(d.request(message, Some(session.token())))).await
    };
    match created.await {
        Ok(_) => Redirect::to("/admin/categories/?done=created").into_response(),
        Err(error) if is_refusal(&error) => {
            let parent = form.parent().ok().flatten();
            let form = (form.name, parent, Some(page::explain(&error)));
            list_page(&state, &session, &csrf, StatusCode::BAD_REQUEST, None, form).await
        }
        Err(error) => page::failure(Some(&session), &csrf, error),
    }
}

/// A refusal the form can show (anything but a failure of the services).
fn is_refusal(error: &ApiError) -> bool {
    crate::error::status_of(error.kind).is_client_error()
}

#[derive(Template)]
#[template(path = "console/category.html")]
struct CategoryPage {
    layout: Layout,
    category: Node,
    /// Every category, for the parent list.
    nodes: Vec<Node>,
    error: Option<String>,
    name: String,
}

async fn edit_page(
    state: &AppState,
    session: &Session,
    csrf: &Csrf,
    id: i64,
    status: StatusCode,
    form: Option<(String, Option<i64>, String)>,
) -> Response {
    let mut nodes = match load(state).await {
        Ok(nodes) => nodes,
        Err(error) => return page::failure(Some(session), csrf, error),
    };
    let Some(position) = nodes.iter().position(|n| n.id == id) else {
        return page::message(StatusCode::NOT_FOUND, Some(session), csrf, "Not found", "No such category.");
    };
    let category = nodes.remove(position);
    let (name, parent, error) = match form {
        Some((name, parent, error)) => (name, parent, Some(error)),
        None => (category.name.clone(), category.parent, None),
    };
    let nodes = choose(nodes, parent);
    let layout = Layout::new(category.name.clone(), Some(session), csrf, Section::Categories);
    page::render(status, &CategoryPage { layout, category, nodes, error, name })
}

pub async fn edit(State(state): State<AppState>, Admin(session, csrf): Admin, Path(id): Path<String>) -> Response {
    match page::path_id(&id) {
        Some(id) => edit_page(&state, &session, &csrf, id, StatusCode::OK, None).await,
        None => page::message(StatusCode::NOT_FOUND, Some(&session), &csrf, "Not found", "No such category."),
    }
}

/// Rename and move in one save.
pub async fn update(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Path(id): Path<String>,
    Posted(form): Posted<CategoryForm>,
) -> Response {
    let Some(id) = page::path_id(&id) else {
        return page::message(StatusCode::NOT_FOUND, Some(&session), &csrf, "Not found", "No such category.");
    };
    let saved = async {
        let parent = form.parent()?;
        let message =
            pb::UpdateCategoryRequest { id, name: Some(form.name.clone()), parent, clear_parent: parent.is_none() };
        let d = &state.downstream;
        let mut catalog = d.catalog.clone();
        d.call(catalog.update_category(d.request(message, Some(session.token())))).await
    };
    match saved.await {
        Ok(_) => Redirect::to("/admin/categories/?done=saved").into_response(),
        Err(error) if is_refusal(&error) && error.kind != common::ErrorKind::NotFound => {
            let form = (form.name.clone(), form.parent().ok().flatten(), page::explain(&error));
            edit_page(&state, &session, &csrf, id, StatusCode::BAD_REQUEST, Some(form)).await
        }
        Err(error) => page::failure(Some(&session), &csrf, error),
    }
}

#[derive(Deserialize)]
pub struct Nothing {}

/// Children move up to the deleted category's parent; products lose it.
pub async fn delete(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Path(id): Path<String>,
    Posted(Nothing {}): Posted<Nothing>,
) -> Response {
    let Some(id) = page::path_id(&id) else {
        return page::message(StatusCode::NOT_FOUND, Some(&session), &csrf, "Not found", "No such category.");
    };
    let d = &state.downstream;
    let mut catalog = d.catalog.clone();
    match d.call(catalog.delete_category(d.request(pb::DeleteCategoryRequest { id }, Some(session.token())))).await {
        Ok(_) => Redirect::to("/admin/categories/?done=deleted").into_response(),
        Err(error) => page::failure(Some(&session), &csrf, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(id: i64, name: &str, parent: Option<i64>) -> pb::Category {
        pb::Category { id, name: name.into(), parent, ..Default::default() }
    }

    #[test]
    fn the_tree_reads_depth_first_with_siblings_by_name() {
        // As catalog lists them: by name.
        let flat = vec![
            category(3, "Audio", Some(1)),
            category(1, "Electronics", None),
            category(4, "Garden", None),
            category(5, "Headphones", Some(3)),
            category(2, "Phones", Some(1)),
        ];
        let nodes = tree(flat);
        let read: Vec<(&str, usize)> = nodes.iter().map(|n| (n.name.as_str(), n.depth)).collect();
        assert_eq!(read, vec![("Electronics", 0), ("Audio", 1), ("Headphones", 2), ("Phones", 1), ("Garden", 0)]);
        assert_eq!(nodes[2].option_label(), "\u{2014} \u{2014} Headphones");
    }
}
