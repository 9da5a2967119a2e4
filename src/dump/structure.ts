/**
 * SQL text of a table file around its rows: session settings, DROP/CREATE,
 * triggers, and the view file. Pure functions of the catalogue; nothing
 * volatile (no dates, no AUTO_INCREMENT counter where rows are not saved).
 */
import { quoteIdent, quoteString } from '../db/quote';
import type { DbTrigger, DbView } from '../db/schema';

/** Marks where rows begin; change detection and restore read up to it. */
export const ROWS_MARKER = '-- Rows\n';

export function fileHeader(title: string): string {
  return [
    `-- schema_backup ${title}`,
    '-- Load with: mariadb DATABASE < FILE',
    '',
    '/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;',
    '/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;',
    '/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;',
    '/*!40101 SET NAMES utf8mb4 */;',
    '/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;',
    "/*!40103 SET TIME_ZONE='+00:00' */;",
    '/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;',
    '/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;',
    "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;",
    '/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;',
    '',
    '',
  ].join('\n');
}

export const FILE_FOOTER = [
  '',
  '/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;',
  '/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;',
  '/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;',
  '/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;',
  '/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;',
  '/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;',
  '/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;',
  '/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;',
  '',
].join('\n');

/** Drops the ` AUTO_INCREMENT=N` table option (the counter, not the column attribute). */
export function withoutAutoIncrementCounter(createTable: string): string {
  return createTable.replace(/^(\) ENGINE=\S+) AUTO_INCREMENT=\d+/m, '$1');
}

export function tableStructure(name: string, createTable: string, keepCounter: boolean): string {
  const create = keepCounter ? createTable : withoutAutoIncrementCounter(createTable);
  return `DROP TABLE IF EXISTS ${quoteIdent(name)};\n${create};\n`;
}

export function triggersText(triggers: readonly DbTrigger[]): string {
  if (triggers.length === 0) return '';
  const out = ['', '-- Triggers', 'DELIMITER ;;'];
  for (const t of triggers) {
    out.push(`/*!50003 SET SESSION SQL_MODE=${quoteString(t.sqlMode)} */;;`);
    out.push(`/*!50003 DROP TRIGGER IF EXISTS ${quoteIdent(t.name)} */;;`);
    out.push(`${t.createStatement} ;;`);
  }
  out.push("/*!50003 SET SESSION SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;;", 'DELIMITER ;', '');
  return out.join('\n');
}

/** Names of other views a view's definition refers to (by their quoted name). */
export function viewDependencies(view: DbView, viewNames: readonly string[]): string[] {
  const body = view.createStatement.slice(view.createStatement.indexOf(' AS ') + 4);
  return viewNames.filter((n) => n !== view.name && body.includes(quoteIdent(n)));
}

/** Views in dependency order (a view after every view it uses), ties by name, so the file is stable. */
export function orderViews(views: readonly DbView[]): DbView[] {
  const names = views.map((v) => v.name);
  const deps = new Map(views.map((v) => [v.name, viewDependencies(v, names)]));
  const byName = new Map(views.map((v) => [v.name, v]));
  const done = new Set<string>();
  const ordered: DbView[] = [];
  const visit = (name: string, path: Set<string>): void => {
    if (done.has(name) || path.has(name)) return; // a cycle cannot exist in a valid catalogue; never loop on one
    path.add(name);
    for (const d of [...(deps.get(name) ?? [])].sort()) visit(d, path);
    path.delete(name);
    done.add(name);
    ordered.push(byName.get(name) as DbView);
  };
  for (const n of [...names].sort()) visit(n, new Set());
  return ordered;
}

export function viewsText(views: readonly DbView[]): string {
  const body = orderViews(views)
    .map((v) => `DROP VIEW IF EXISTS ${quoteIdent(v.name)};\n${v.createStatement};\n`)
    .join('\n');
  return fileHeader('views, in dependency order') + body + FILE_FOOTER;
}
