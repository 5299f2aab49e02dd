// Tongpin: one MongoDB user per service, limited to that service's own database (each
// service owns its database and, in production, connects with credentials for it alone).
//
// Run once per deployment as a user administrator, with each service's password in the
// environment (mongosh exposes it as process.env):
//
//   TONGPIN_MONGO_PASSWORD_INTAKE=... TONGPIN_MONGO_PASSWORD_TRIAGE=... \
//   TONGPIN_MONGO_PASSWORD_COUNSELLING=... TONGPIN_MONGO_PASSWORD_OVERSIGHT=... \
//   mongosh "mongodb://admin@mongo-0.mongo:27017/admin?replicaSet=rs0" --file deploy/mongo/create-users.js
//
// Safe to run again: an existing user gets its password and roles reset to what is below, so
// the script also rotates passwords and removes any role granted by hand since.

const services = ['intake', 'triage', 'counselling', 'oversight'];

for (const service of services) {
  const dbName = `tongpin_${service}`;
  const user = `tongpin_${service}`;
  const variable = `TONGPIN_MONGO_PASSWORD_${service.toUpperCase()}`;
  const pwd = process.env[variable];
  if (!pwd) {
    throw new Error(`${variable} is not set; refusing to create ${user} without a password`);
  }
  // readWrite on its own database only: documents, collections and indexes there, nothing
  // elsewhere. The user lives in that database too, so authSource is the service's database.
  const roles = [{ role: 'readWrite', db: dbName }];
  const target = db.getSiblingDB(dbName);
  if (target.getUser(user) === null) {
    target.createUser({ user, pwd, roles, mechanisms: ['SCRAM-SHA-256'] });
    print(`created ${user} on ${dbName}`);
  } else {
    target.updateUser(user, { pwd, roles, mechanisms: ['SCRAM-SHA-256'] });
    print(`updated ${user} on ${dbName}`);
  }
}
