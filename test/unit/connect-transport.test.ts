import type { DbCredentials } from '../../src/config/types';
import { connectionOptions, usesSocket, where } from '../../src/db/connect';

const creds = (host: string, socketPath: string | null): DbCredentials => ({ host, port: 3307, socketPath, user: 'u', password: 'p', database: 'd', source: 'f' });

test.each([
  ['localhost', '/run/mysqld/mysqld.sock', true],
  ['', '/run/mysqld/mysqld.sock', true],
  ['127.0.0.1', '/run/mysqld/mysqld.sock', false],
  ['db.example.org', '/run/mysqld/mysqld.sock', false],
  ['localhost', null, false],
  ['127.0.0.1', null, false],
] as const)('host %j with socket %j: socket %s (the socket is for localhost, as the mysql clients read it)', (host, socket, expected) => {
  const c = creds(host, socket);
  expect(usesSocket(c)).toBe(expected);
  const options = connectionOptions(c);
  if (expected) {
    expect(options.socketPath).toBe(socket);
    expect(options.host).toBeUndefined();
    expect(where(c)).toBe(`socket ${socket}`);
  } else {
    expect(options.socketPath).toBeUndefined();
    expect(options).toMatchObject({ host, port: 3307 });
    expect(where(c)).toBe(`${host}:3307`);
  }
});
