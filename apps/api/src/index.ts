/** The API as a library: the Fastify app over a Redis connection, and its configuration. */
export { type Api, buildApi } from './app';
export { type ApiConfig, loadApiConfig } from './config';
