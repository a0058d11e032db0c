// SPDX-License-Identifier: MIT
//! spacetimedb_query (stand-in): compiles SQL text into a typed statement
//! (`compile_sql_stmt`, where the SQL text arrives as a `&str`) and runs it
//! (`execute_select_stmt`, `execute_dml_stmt`). Pure over the datastore
//! traits; runs on the caller's thread (the database's executor).

pub mod parser;

use parser::{parse_sql, CmpOp, Literal, SqlAst, SqlPredicate};
use spacetimedb_execution::{Datastore, ExecError, ExecutionMetrics, MutDatastore, Result};
use spacetimedb_primitives::{ColId, TableId};
use spacetimedb_sats::identity::AuthCtx;
use spacetimedb_sats::{AlgebraicType, AlgebraicValue, ProductValue};
use spacetimedb_table::table::TableSchema;
use std::sync::Arc;

/// Name resolution for the compiler (SpacetimeDB's `SchemaView`).
pub trait SchemaView {
    fn table_id(&self, name: &str) -> Option<TableId>;
    fn schema_for_table(&self, table_id: TableId) -> Option<Arc<TableSchema>>;
}

/// `col op value`, typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
    pub col: ColId,
    pub op: CmpOp,
    pub value: AlgebraicValue,
}

impl Predicate {
    pub fn matches(&self, row: &ProductValue) -> bool {
        let v = match row.elements.get(self.col.0 as usize) {
            Some(v) => v,
            None => return false,
        };
        match self.op {
            CmpOp::Eq => v == &self.value,
            CmpOp::Ne => v != &self.value,
            CmpOp::Lt => v < &self.value,
            CmpOp::Le => v <= &self.value,
            CmpOp::Gt => v > &self.value,
            CmpOp::Ge => v >= &self.value,
        }
    }
}

/// A SELECT over one table.
#[derive(Clone, Debug)]
pub struct ProjectList {
    pub table: Arc<TableSchema>,
    /// The columns returned, in order.
    pub columns: Vec<ColId>,
    pub filter: Vec<Predicate>,
    pub limit: Option<u64>,
}

impl ProjectList {
    /// The result's column names and types.
    pub fn head(&self) -> Vec<(Box<str>, AlgebraicType)> {
        self.columns
            .iter()
            .map(|c| (self.table.column_name(*c).into(), self.table.row_type.elements[c.0 as usize].algebraic_type))
            .collect()
    }
}

#[derive(Clone, Debug)]
pub enum DML {
    Insert { table: Arc<TableSchema>, rows: Vec<ProductValue> },
    Delete { table: Arc<TableSchema>, filter: Vec<Predicate> },
    Update { table: Arc<TableSchema>, assignments: Vec<(ColId, AlgebraicValue)>, filter: Vec<Predicate> },
}

#[derive(Clone, Debug)]
pub enum Statement {
    Select(ProjectList),
    DML(DML),
}

fn err<T>(msg: String) -> Result<T> {
    Err(ExecError(msg.into()))
}

fn type_literal(lit: &Literal, ty: AlgebraicType, what: &str) -> Result<AlgebraicValue> {
    let mismatch = || err(format!("{lit:?} is not a valid {} for {what}", ty.sats_name()));
    match (ty, lit) {
        (AlgebraicType::Bool, Literal::Bool(b)) => Ok(AlgebraicValue::Bool(*b)),
        (AlgebraicType::U32, Literal::Int(n)) => u32::try_from(*n).map(AlgebraicValue::U32).or_else(|_| mismatch()),
        (AlgebraicType::U64, Literal::Int(n)) => u64::try_from(*n).map(AlgebraicValue::U64).or_else(|_| mismatch()),
        (AlgebraicType::I64, Literal::Int(n)) => i64::try_from(*n).map(AlgebraicValue::I64).or_else(|_| mismatch()),
        (AlgebraicType::String, Literal::Str(s)) => Ok(AlgebraicValue::String(s.as_str().into())),
        _ => mismatch(),
    }
}

fn resolve_table(tx: &impl SchemaView, name: &str) -> Result<Arc<TableSchema>> {
    tx.table_id(name)
        .and_then(|id| tx.schema_for_table(id))
        .map_or_else(|| err(format!("`{name}` is not a valid table")), Ok)
}

fn resolve_col(table: &TableSchema, name: &str) -> Result<ColId> {
    table
        .col_by_name(name)
        .map_or_else(|| err(format!("`{name}` is not a column of `{}`", table.table_name)), Ok)
}

fn resolve_filter(table: &TableSchema, preds: &[SqlPredicate]) -> Result<Vec<Predicate>> {
    preds
        .iter()
        .map(|p| {
            let col = resolve_col(table, &p.column)?;
            let ty = table.row_type.elements[col.0 as usize].algebraic_type;
            let value = type_literal(&p.value, ty, &p.column)?;
            Ok(Predicate { col, op: p.op, value })
        })
        .collect()
}

/// Parses and type-checks one SQL statement against the schema `tx` sees.
/// Marked #[inline(never)]: the tracer reads the SQL text from its
/// arguments; in SpacetimeDB it is big enough to stay a function.
#[inline(never)]
pub fn compile_sql_stmt(sql: &str, tx: &impl SchemaView, auth: &AuthCtx) -> Result<Statement> {
    let _ = auth; // every caller may run every statement here (no RLS)
    let ast = parse_sql(sql).map_err(|e| ExecError(e.into()))?;
    match ast {
        SqlAst::Select { table, columns, filter, limit } => {
            let table = resolve_table(tx, &table)?;
            let columns = match columns {
                None => (0..table.row_type.elements.len()).map(|i| ColId(i as u16)).collect(),
                Some(names) => names.iter().map(|n| resolve_col(&table, n)).collect::<Result<Vec<_>>>()?,
            };
            let filter = resolve_filter(&table, &filter)?;
            Ok(Statement::Select(ProjectList { table, columns, filter, limit }))
        }
        SqlAst::Insert { table, columns, rows } => {
            let table = resolve_table(tx, &table)?;
            let ncols = table.row_type.elements.len();
            // Where each column's value is in a VALUES tuple.
            let order: Vec<usize> = match columns {
                None => (0..ncols).collect(),
                Some(names) => {
                    let cols = names.iter().map(|n| resolve_col(&table, n)).collect::<Result<Vec<_>>>()?;
                    let mut order = Vec::with_capacity(ncols);
                    for i in 0..ncols {
                        match cols.iter().position(|c| c.0 as usize == i) {
                            Some(pos) => order.push(pos),
                            None => return err(format!("INSERT must give every column of `{}`", table.table_name)),
                        }
                    }
                    if cols.len() != ncols {
                        return err("a column is named twice".to_string());
                    }
                    order
                }
            };
            let mut typed = Vec::with_capacity(rows.len());
            for row in rows {
                if row.len() != ncols {
                    return err(format!("`{}` has {ncols} columns, the row has {}", table.table_name, row.len()));
                }
                let mut elements = Vec::with_capacity(ncols);
                for (i, &pos) in order.iter().enumerate() {
                    let el = &table.row_type.elements[i];
                    elements.push(type_literal(&row[pos], el.algebraic_type, el.name.as_deref().unwrap_or("?"))?);
                }
                typed.push(ProductValue::new(elements));
            }
            Ok(Statement::DML(DML::Insert { table, rows: typed }))
        }
        SqlAst::Delete { table, filter } => {
            let table = resolve_table(tx, &table)?;
            let filter = resolve_filter(&table, &filter)?;
            Ok(Statement::DML(DML::Delete { table, filter }))
        }
        SqlAst::Update { table, assignments, filter } => {
            let table = resolve_table(tx, &table)?;
            let mut typed = Vec::new();
            for (name, lit) in &assignments {
                let col = resolve_col(&table, name)?;
                let ty = table.row_type.elements[col.0 as usize].algebraic_type;
                typed.push((col, type_literal(lit, ty, name)?));
            }
            let filter = resolve_filter(&table, &filter)?;
            Ok(Statement::DML(DML::Update { table, assignments: typed, filter }))
        }
    }
}

/// The rows of `table` that pass `filter`: through the index of the first
/// equality on an indexed column when there is one, else a full scan.
fn filtered_rows<Tx: Datastore>(
    tx: &Tx,
    table: &TableSchema,
    filter: &[Predicate],
    metrics: &mut ExecutionMetrics,
) -> Result<Vec<ProductValue>> {
    let seek = filter.iter().find_map(|p| match p.op {
        CmpOp::Eq => table.index_on(p.col).map(|ix| (ix.index_id, &p.value)),
        _ => None,
    });
    let rows = match seek {
        Some((index_id, key)) => tx.index_scan_point(table.table_id, index_id, key, metrics)?,
        None => tx.table_scan(table.table_id, metrics)?,
    };
    Ok(rows.into_iter().filter(|r| filter.iter().all(|p| p.matches(r))).collect())
}

/// Runs a SELECT; `check_row_limit` may refuse the plan before it runs.
#[inline(never)]
pub fn execute_select_stmt<Tx: Datastore>(
    auth: &AuthCtx,
    stmt: ProjectList,
    tx: &Tx,
    metrics: &mut ExecutionMetrics,
    check_row_limit: impl Fn(&ProjectList) -> Result<()>,
) -> Result<Vec<ProductValue>> {
    let _ = auth;
    check_row_limit(&stmt)?;
    let mut rows = filtered_rows(tx, &stmt.table, &stmt.filter, metrics)?;
    if let Some(limit) = stmt.limit {
        rows.truncate(limit.min(usize::MAX as u64) as usize);
    }
    Ok(rows
        .into_iter()
        .map(|r| ProductValue::new(stmt.columns.iter().map(|c| r.elements[c.0 as usize].clone()).collect()))
        .collect())
}

/// Runs an INSERT, DELETE or UPDATE inside the caller's transaction.
#[inline(never)]
pub fn execute_dml_stmt<Tx: MutDatastore>(auth: &AuthCtx, stmt: DML, tx: &mut Tx, metrics: &mut ExecutionMetrics) -> Result<()> {
    let _ = auth;
    match stmt {
        DML::Insert { table, rows } => {
            for row in &rows {
                if tx.insert_product_value(table.table_id, row)? {
                    metrics.rows_inserted += 1;
                }
            }
        }
        DML::Delete { table, filter } => {
            for row in filtered_rows(tx, &table, &filter, metrics)? {
                if tx.delete_product_value(table.table_id, &row)? {
                    metrics.rows_deleted += 1;
                }
            }
        }
        DML::Update { table, assignments, filter } => {
            let old = filtered_rows(tx, &table, &filter, metrics)?;
            for row in &old {
                tx.delete_product_value(table.table_id, row)?;
            }
            for row in old {
                let mut new = row;
                for (col, v) in &assignments {
                    new.elements[col.0 as usize] = v.clone();
                }
                tx.insert_product_value(table.table_id, &new)?;
                metrics.rows_updated += 1;
            }
        }
    }
    Ok(())
}
